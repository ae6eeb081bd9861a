import EdgeProofCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The attestation ledger: an append-only JSON lines file beside the allowlist, one short line per
/// attestation (an agent's re-attestation at start, and the first one of each approved enrollment), so
/// that 100,000 agents re-attesting daily never rewrite a 100,000-entry allowlist. Lines are appended with
/// O_APPEND and fsync; the file is compacted (each agent's last line, atomic rename) by the enrollment book
/// when it grows past ``compactionThreshold(agents:)``. Readers (gateway, collector) take ``latest()`` once,
/// then ``readAppended(since:)``, which starts over by itself when the file was compacted.
///
/// Writers must hold the allowlist's lock (``EnrollmentBook`` does): the ledger itself does not lock.
public struct AttestationLedger: Sendable {
    /// One attestation: `{"agent", "attested_at", "key_hash", "reset_count", "restart_count", "clock",
    /// "tpm_reset"}` (the clock fields when the quote had them; `tpm_reset` only when true).
    public struct Line: Sendable, Hashable, Codable {
        public var agent: String
        /// ISO 8601 UTC.
        public var attestedAt: String
        /// `tpm_public_key_hash` of the signing key the attestation certified.
        public var keyHash: PublicKeyHash
        public var resetCount: UInt32?
        public var restartCount: UInt32?
        /// TPM clock, milliseconds.
        public var clock: UInt64?
        /// The reset count went up since the previous line: the TPM was reset (power cycle).
        public var tpmReset: Bool?

        enum CodingKeys: String, CodingKey {
            case agent
            case attestedAt = "attested_at"
            case keyHash = "key_hash"
            case resetCount = "reset_count"
            case restartCount = "restart_count"
            case clock
            case tpmReset = "tpm_reset"
        }

        public init(
            agent: String, attestedAt: String, keyHash: PublicKeyHash, clock reading: TPMClockReading?,
            tpmReset: Bool = false
        ) {
            self.agent = agent
            self.attestedAt = attestedAt
            self.keyHash = keyHash
            self.resetCount = reading?.resetCount
            self.restartCount = reading?.restartCount
            self.clock = reading?.clock
            self.tpmReset = tpmReset ? true : nil
        }
    }

    public let url: URL
    /// The ledger is compacted past max(4 × agents, this) lines.
    public let minimumCompactionLines: Int

    public init(url: URL, minimumCompactionLines: Int = 1024) {
        self.url = url
        self.minimumCompactionLines = minimumCompactionLines
    }

    /// The default ledger of an allowlist: its path with `.attestations.jsonl` for its extension
    /// (`allowlist.yaml` → `allowlist.attestations.jsonl`).
    public init(besideAllowlist allowlist: AllowlistFile, minimumCompactionLines: Int = 1024) {
        let base = allowlist.url.deletingPathExtension()
        self.init(
            url: base.deletingLastPathComponent().appendingPathComponent(base.lastPathComponent + ".attestations.jsonl"),
            minimumCompactionLines: minimumCompactionLines)
    }

    public func compactionThreshold(agents: Int) -> Int { max(4 * agents, minimumCompactionLines) }

    /// Appends `lines` in one write and syncs them before returning.
    public func append(_ lines: [Line]) throws(StorageError) {
        guard !lines.isEmpty else { return }
        var data = Data()
        for line in lines { data += try Self.encode(line) }
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.system("open \(url.path)", errno: errno) }
        defer { close(fd) }
        try DurableFile.writeAll(fd, data, path: url.path)
        guard fsync(fd) == 0 else { throw StorageError.system("fsync \(url.path)", errno: errno) }
    }

    /// Each agent's last line (none for a ledger that does not exist yet).
    public func latest() throws(StorageError) -> [String: Line] {
        var position = LedgerPosition()
        var latest = [String: Line]()
        Self.merge(try readAppended(since: &position), into: &latest)
        return latest
    }

    /// The complete lines after `position`, which moves past them. When the file is another one than the
    /// position's (compacted: another inode or generation line) or shorter, reading starts over from its
    /// first line; since a compacted ledger holds each agent's last line, merging what is read by agent
    /// (``merge(_:into:)``) gives the same map either way. A line still being written (no newline yet)
    /// waits for the next call.
    public func readAppended(since position: inout LedgerPosition) throws(StorageError) -> [Line] {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT {
                position = LedgerPosition()
                return []
            }
            throw StorageError.system("open \(url.path)", errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StorageError.system("fstat \(url.path)", errno: errno) }
        let device = UInt64(info.st_dev)
        let inode = UInt64(info.st_ino)
        let size = Int64(info.st_size)
        // A compaction's file may get the inode number of the one it replaced two compactions ago: its
        // generation line tells them apart.
        let generation = try Self.generation(fd, size: size, path: url.path)
        if position.device != device || position.inode != inode || position.generation != generation
            || size < position.offset
        {
            position = LedgerPosition(device: device, inode: inode, offset: 0)
            position.generation = generation
        }
        guard size > position.offset else { return [] }
        let data = try Self.read(fd, from: position.offset, count: Int(size - position.offset), path: url.path)
        guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        var lines = [Line]()
        let decoder = JSONDecoder()
        var number = 0
        for text in data[data.startIndex...end].split(separator: UInt8(ascii: "\n")) {
            number += 1
            if text.starts(with: Self.generationPrefix) { continue }
            do {
                lines.append(try decoder.decode(Line.self, from: text))
            } catch {
                throw StorageError(
                    "attestation ledger \(url.path): line \(number) after offset \(position.offset) is malformed")
            }
        }
        position.offset += Int64(end - data.startIndex + 1)
        position.linesRead += lines.count
        return lines
    }

    /// Merges `lines` into `latest` in place, the later line of an agent winning.
    public static func merge(_ lines: [Line], into latest: inout [String: Line]) {
        for line in lines { latest[line.agent] = line }
    }

    /// Rewrites the ledger as `latest` (one line per agent, by name) with an atomic rename: readers see the
    /// old file or the whole new one, and start over from its top (its inode changed).
    public func compact(to latest: [String: Line]) throws(StorageError) {
        var data = Data(Self.generationPrefix) + Data("\(UUID().uuidString)\"}\n".utf8)
        for agent in latest.keys.sorted() {
            if let line = latest[agent] { data += try Self.encode(line) }
        }
        try DurableFile.write(data, to: url)
    }

    /// A compacted file's first line, `{"generation":"<UUID>"}`, which readers skip.
    private static let generationPrefix = Array(#"{"generation":""#.utf8)

    /// The file's generation line ("" for a ledger that was never compacted).
    private static func generation(_ fd: Int32, size: Int64, path: String) throws(StorageError) -> String {
        let head = try read(fd, from: 0, count: Int(min(size, 64)), path: path)
        guard head.starts(with: generationPrefix), let end = head.firstIndex(of: UInt8(ascii: "\n")) else { return "" }
        return String(decoding: head[head.startIndex..<end], as: UTF8.self)
    }

    static func encode(_ line: Line) throws(StorageError) -> Data {
        do {
            return try lineEncoder.encode(line) + Data("\n".utf8)
        } catch {
            throw StorageError("cannot encode attestation line for \(line.agent): \(error)")
        }
    }

    private static let lineEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func read(_ fd: Int32, from offset: Int64, count: Int, path: String) throws(StorageError) -> Data {
        var data = Data(count: count)
        var done = 0
        let failure: Int32 = data.withUnsafeMutableBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return 0 }
            while done < count {
                let got = pread(fd, base + done, count - done, off_t(offset) + off_t(done))
                if got < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if got == 0 { break }
                done += got
            }
            return 0
        }
        guard failure == 0 else { throw StorageError.system("read \(path)", errno: failure) }
        return data.prefix(done)
    }
}

/// Where a ledger reader stopped: the file (device, inode, generation) and the offset after its last complete
/// line.
/// A new position reads from the start.
public struct LedgerPosition: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var generation = ""
    public internal(set) var offset: Int64
    /// Lines read through this position since it last started over (the file's line count, for a writer).
    public internal(set) var linesRead: Int

    public init() {
        self.init(device: 0, inode: 0, offset: 0)
    }

    init(device: UInt64, inode: UInt64, offset: Int64) {
        self.device = device
        self.inode = inode
        self.offset = offset
        self.linesRead = 0
    }
}
