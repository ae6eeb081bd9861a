import EdgeProofCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The replay cache's file: one line per consumed nonce, `<key id>:<32 hex> <expiry ms>\n`, and
/// `-<key id>:<32 hex>\n` for a nonce given back; appended and fsynced before the call returns,
/// rewritten atomically on compaction.
/// A line torn by a crash is ignored on load: its nonce was never reported consumed.
public final class ReplayJournal: ReplayCacheStorage {
    public let url: URL
    private let descriptor: Mutex<Int32>

    /// Opens (creating if needed) the journal at `url`.
    public init(url: URL) throws(StorageError) {
        self.url = url
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError.system("open replay journal \(url.path)", errno: errno) }
        descriptor = Mutex(fd)
        try DurableFile.syncDirectory(url.deletingLastPathComponent())
    }

    deinit {
        descriptor.withLock { fd in _ = close(fd) }
    }

    public func loadConsumed() throws -> [ConsumedNonce] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw StorageError("cannot read replay journal \(url.path): \(error.localizedDescription)")
        }
        var nonces = [NonceID: ConsumedNonce]()
        var order = [NonceID]()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if line.first == UInt8(ascii: "-") {
                if let id = Self.parseID(line.dropFirst()) { nonces[id] = nil }
            } else if let nonce = Self.parse(line) {
                if nonces[nonce.id] == nil { order.append(nonce.id) }
                nonces[nonce.id] = nonce
            }
        }
        return order.compactMap { nonces[$0] }
    }

    public func appendRelease(_ id: NonceID) throws {
        let line = Data("-\(Self.format(id))\n".utf8)
        try descriptor.withLock { fd throws(StorageError) in
            try DurableFile.writeAll(fd, line, path: url.path)
            guard fsync(fd) == 0 else { throw StorageError.system("fsync \(url.path)", errno: errno) }
        }
    }

    public func append(_ nonce: ConsumedNonce) throws {
        let line = Data(Self.format(nonce).utf8)
        try descriptor.withLock { fd throws(StorageError) in
            try DurableFile.writeAll(fd, line, path: url.path)
            guard fsync(fd) == 0 else { throw StorageError.system("fsync \(url.path)", errno: errno) }
        }
    }

    public func compact(keeping live: [ConsumedNonce]) throws {
        let content = live.map(Self.format).joined()
        try descriptor.withLock { fd throws(StorageError) in
            try DurableFile.write(Data(content.utf8), to: url, permissions: 0o600)
            // The old descriptor points at the replaced file; appends must go to the new one.
            let reopened = open(url.path, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard reopened >= 0 else { throw StorageError.system("reopen \(url.path)", errno: errno) }
            close(fd)
            fd = reopened
        }
    }

    static func format(_ nonce: ConsumedNonce) -> String {
        let millis = Int64((nonce.expiresAt.timeIntervalSince1970 * 1000).rounded(.down))
        return "\(format(nonce.id)) \(millis)\n"
    }

    static func format(_ id: NonceID) -> String {
        "\(hex(UInt64(id.keyID), width: 2)):\(hex(id.high, width: 16))\(hex(id.low, width: 16))"
    }

    static func parse(_ line: some Collection<UInt8>) -> ConsumedNonce? {
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
        guard fields.count == 2, let millis = Int64(fields[1]), let id = parseID(fields[0].utf8) else { return nil }
        return ConsumedNonce(id: id, expiresAt: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    static func parseID(_ text: some Collection<UInt8>) -> NonceID? {
        let parts = String(decoding: text, as: UTF8.self).split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 32,
            let keyID = UInt8(parts[0], radix: 16),
            let high = UInt64(parts[1].prefix(16), radix: 16),
            let low = UInt64(parts[1].suffix(16), radix: 16)
        else { return nil }
        return NonceID(keyID: keyID, high: high, low: low)
    }

    private static func hex(_ value: UInt64, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
