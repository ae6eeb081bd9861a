import EdgeProofCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The collectors' shared nonce keys on disk, one key per line:
///
/// ```
/// # comments and blank lines are ignored
/// 2:<base64 secret of at least 32 bytes>     # the first key is the current one: it issues nonces
/// 1:<base64 secret>                          # further keys are still accepted (rotation)
/// ```
///
/// Ids are 1–255 and unique. Every collector of a deployment reads the same file, so a nonce issued
/// by any of them is accepted by all. Keep it readable by the collector's user only (mode 0600).
/// To rotate: put a new key on the first line, keep the old one below it for at least one nonce
/// lifetime, then remove it.
public struct NonceKeyFile: Sendable {
    public let url: URL

    public init(url: URL) {
        self.url = url
    }

    public init(path: String) {
        self.init(url: URL(fileURLWithPath: path))
    }

    /// Reads the keys; the first line's key issues, all are accepted.
    public func load() throws(StorageError) -> NonceKeyring {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw StorageError("cannot read nonce key file \(url.path): no such file or not readable")
        }
        return try parse(String(decoding: data, as: UTF8.self))
    }

    /// Parses file content (see the type's documentation for the format).
    public func parse(_ text: String) throws(StorageError) -> NonceKeyring {
        var keys = [NonceKey]()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let location = "nonce key file \(url.path), line \(index + 1)"
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let number = Int(parts[0]), (1...255).contains(number) else {
                throw StorageError("\(location): expected <id 1-255>:<base64 secret>")
            }
            guard let secret = Data(base64Encoded: parts[1].trimmingCharacters(in: .whitespaces)) else {
                throw StorageError("\(location): the secret is not base64")
            }
            do {
                keys.append(try NonceKey(id: UInt8(number), secret: secret))
            } catch {
                throw StorageError("\(location): \(error)")
            }
        }
        guard let current = keys.first else {
            throw StorageError("nonce key file \(url.path) holds no key; create one with `edgeproof collector keygen`")
        }
        do {
            return try NonceKeyring(current: current, previous: Array(keys.dropFirst()))
        } catch {
            throw StorageError("nonce key file \(url.path): \(error)")
        }
    }

    /// Writes a new file with one fresh random 32-byte key (id `id`), mode 0600, atomically.
    /// Refuses to replace an existing file: other collectors may share its key.
    @discardableResult
    public static func generate(at url: URL, id: UInt8 = 1) throws(StorageError) -> NonceKeyFile {
        guard id >= 1 else { throw StorageError("nonce key ids are 1-255") }
        var generator = SystemRandomNumberGenerator()
        let secret = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let text = "# EdgeProof nonce keys: <id>:<base64 secret>; the first line issues, all are accepted.\n"
            + "\(id):\(secret.base64EncodedString())\n"
        try createExclusively(Data(text.utf8), at: url, permissions: 0o600)
        return NonceKeyFile(url: url)
    }

    /// Writes a temporary file, syncs it, then links it to `url`, which fails if `url` exists: the
    /// file appears whole or not at all, and an existing one is never replaced.
    private static func createExclusively(_ data: Data, at url: URL, permissions: mode_t) throws(StorageError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw StorageError.system("create \(temporary.path)", errno: errno) }
        defer { unlink(temporary.path) }
        do throws(StorageError) {
            try DurableFile.writeAll(fd, data, path: temporary.path)
            guard fchmod(fd, permissions) == 0 else { throw StorageError.system("chmod \(temporary.path)", errno: errno) }
            guard fsync(fd) == 0 else { throw StorageError.system("fsync \(temporary.path)", errno: errno) }
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        guard link(temporary.path, url.path) == 0 else {
            let code = errno
            if code == EEXIST { throw StorageError("\(url.path) already exists; not overwriting it") }
            throw StorageError.system("create \(url.path)", errno: code)
        }
        try DurableFile.syncDirectory(directory)
    }
}
