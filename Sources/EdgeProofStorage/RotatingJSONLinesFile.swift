import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only JSON Lines log split into files that rotate by size and age.
///
/// - The active file is `<directory>/<prefix>-<UTC yyyyMMdd'T'HHmmss'Z'>-<sequence>.jsonl.open`; it is
///   created on the first append after a rotation.
/// - ``append(lines:now:)`` writes a whole batch, then fsyncs once (unless `fsync` is off), so a
///   batch is durable when the call returns. A failed write is cut back off the file: no torn line.
/// - Rotation (size or age reached): fsync, rename `.jsonl.open` → `.jsonl`, sync the directory.
///   Closed files are never written again; retention then deletes the oldest closed files beyond
///   `retainFiles` and those older than `retainAge`.
/// - On start, a `.jsonl.open` left by a crash is closed the same way after cutting off a last line
///   without its newline (a write the crash interrupted), so every line of every file parses.
///
/// Calls are serialized by a mutex and block for at most one write plus one fsync (and a rename on
/// rotation).
public final class RotatingJSONLinesFile: Sendable {
    /// When files rotate, how long closed files are kept, and whether appends fsync.
    public struct Limits: Sendable, Hashable {
        /// Rotate once the active file has this many bytes.
        public var maximumFileBytes: Int
        /// Rotate once the active file is this old; zero never rotates by age.
        public var maximumFileAge: Duration
        /// Keep at most this many closed files; 0 keeps all.
        public var retainFiles: Int
        /// Delete closed files older than this; zero keeps them forever.
        public var retainAge: Duration
        /// fsync after every batch (the default); off, data is synced at rotation and close only.
        public var fsync: Bool
        /// Closed files changed within this are kept whatever `retainFiles` and `retainAge` say (the
        /// collector's replay protection reads them back).
        public var keepRecent: Duration

        public init(
            maximumFileBytes: Int = 64 * 1024 * 1024, maximumFileAge: Duration = .seconds(3600), retainFiles: Int = 0,
            retainAge: Duration = .zero, fsync: Bool = true, keepRecent: Duration = .zero
        ) {
            self.maximumFileBytes = maximumFileBytes
            self.maximumFileAge = maximumFileAge
            self.retainFiles = retainFiles
            self.retainAge = retainAge
            self.fsync = fsync
            self.keepRecent = keepRecent
        }
    }

    private struct Active {
        var descriptor: Int32
        var url: URL
        var size: Int
        var openedAt: Date
    }

    private struct State {
        var active: Active?
        var nextSequence: Int
        var isClosed = false
    }

    public let directory: URL
    public let prefix: String
    public let limits: Limits
    private let state: Mutex<State>

    static let closedSuffix = ".jsonl"
    static let openSuffix = ".jsonl.open"

    /// Creates `directory` if needed and closes files a crash left open.
    public init(directory: URL, prefix: String, limits: Limits = Limits(), now: Date = Date()) throws(StorageError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError("cannot create directory \(directory.path): \(error.localizedDescription)")
        }
        self.directory = directory
        self.prefix = prefix
        self.limits = limits
        let files = try Self.files(in: directory, prefix: prefix)
        let highest = files.map { $0.sequence }.max() ?? 0
        self.state = Mutex(State(active: nil, nextSequence: highest + 1))
        for leftover in files where leftover.url.lastPathComponent.hasSuffix(Self.openSuffix) {
            try Self.repair(leftover.url)
        }
        try DurableFile.syncDirectory(directory)
        applyRetention(now: now)
    }

    deinit {
        state.withLock { state in
            if let active = state.active { _ = systemClose(active.descriptor) }
        }
    }

    // MARK: - Appending

    /// Appends each element of `lines` as one line (a newline is added; lines must not contain one),
    /// then fsyncs once. Rotates first when the active file is due, and after writing when it is full.
    public func append(lines: [Data], now: Date = Date()) throws(StorageError) {
        guard !lines.isEmpty else { return }
        var buffer = Data()
        buffer.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for line in lines {
            buffer.append(line)
            buffer.append(UInt8(ascii: "\n"))
        }
        let rotated = try state.withLock { state throws(StorageError) -> Bool in
            guard !state.isClosed else { throw StorageError("\(prefix) log in \(directory.path) is closed") }
            var rotated = false
            if let active = state.active, isDue(active, now: now) {
                state.active = nil
                try finalize(active)
                rotated = true
            }
            var active: Active
            if let current = state.active {
                active = current
            } else {
                active = try openNext(&state, now: now)
                state.active = active
            }
            do throws(StorageError) {
                try DurableFile.writeAll(active.descriptor, buffer, path: active.url.path)
                if limits.fsync, fsync(active.descriptor) != 0 {
                    throw StorageError.system("fsync \(active.url.path)", errno: errno)
                }
            } catch {
                // Cut a partly written batch back off, so no line is torn; if even that fails, close
                // the file where it is (a restart repairs it) and let the next append start a new one.
                if ftruncate(active.descriptor, off_t(active.size)) != 0 {
                    _ = systemClose(active.descriptor)
                    state.active = nil
                }
                throw error
            }
            active.size += buffer.count
            state.active = active
            if active.size >= limits.maximumFileBytes {
                state.active = nil
                try finalize(active)
                rotated = true
            }
            return rotated
        }
        if rotated { applyRetention(now: now) }
    }

    /// Appends one line; see ``append(lines:now:)``.
    public func append(line: Data, now: Date = Date()) throws(StorageError) {
        try append(lines: [line], now: now)
    }

    /// Closes the active file if it has reached its age (call periodically, so an idle file does not
    /// stay open past `maximumFileAge`).
    public func rotateIfDue(now: Date = Date()) throws(StorageError) {
        let rotated = try state.withLock { state throws(StorageError) -> Bool in
            guard let active = state.active, isDue(active, now: now) else { return false }
            state.active = nil
            try finalize(active)
            return true
        }
        if rotated { applyRetention(now: now) }
    }

    /// Finalizes the active file; later appends fail. Idempotent.
    public func close() throws(StorageError) {
        try state.withLock { state throws(StorageError) in
            state.isClosed = true
            guard let active = state.active else { return }
            state.active = nil
            try finalize(active)
        }
    }

    /// The active `.jsonl.open` file, if one is open.
    public var activeFile: URL? {
        state.withLock { $0.active?.url }
    }

    /// Closed `.jsonl` files, oldest first.
    public func closedFiles() throws(StorageError) -> [URL] {
        try Self.files(in: directory, prefix: prefix)
            .filter { $0.url.lastPathComponent.hasSuffix(Self.closedSuffix) }
            .map { $0.url }
    }

    // MARK: - Internals

    private func isDue(_ active: Active, now: Date) -> Bool {
        active.size >= limits.maximumFileBytes
            || (limits.maximumFileAge > .zero
                && now.timeIntervalSince(active.openedAt) >= limits.maximumFileAge.timeInterval)
    }

    private func openNext(_ state: inout State, now: Date) throws(StorageError) -> Active {
        let sequence = state.nextSequence
        state.nextSequence += 1
        let name = "\(prefix)-\(Self.stamp(now))-\(Self.padded(sequence))\(Self.openSuffix)"
        let url = directory.appendingPathComponent(name)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.system("create \(url.path)", errno: errno) }
        do {
            try DurableFile.syncDirectory(directory)
        } catch {
            _ = systemClose(fd)
            unlink(url.path)
            throw error
        }
        return Active(descriptor: fd, url: url, size: 0, openedAt: now)
    }

    /// fsync, close, rename `.jsonl.open` → `.jsonl`, sync the directory.
    private func finalize(_ active: Active) throws(StorageError) {
        defer { _ = systemClose(active.descriptor) }
        guard fsync(active.descriptor) == 0 else {
            throw StorageError.system("fsync \(active.url.path)", errno: errno)
        }
        try Self.rename(openFile: active.url)
        try DurableFile.syncDirectory(directory)
    }

    private static func rename(openFile url: URL) throws(StorageError) {
        let target = String(url.path.dropLast(".open".count))
        guard systemRename(url.path, target) == 0 else {
            throw StorageError.system("rename \(url.path) to \(target)", errno: errno)
        }
    }

    /// Cuts an unterminated last line off a file left open by a crash, then closes it like a rotation
    /// (an empty file is removed instead).
    static func repair(_ url: URL) throws(StorageError) {
        let fd = open(url.path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.system("open \(url.path)", errno: errno) }
        defer { _ = systemClose(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StorageError.system("stat \(url.path)", errno: errno) }
        let size = Int(info.st_size)
        let keep = try lengthThroughLastNewline(fd, size: size, path: url.path)
        if keep < size {
            guard ftruncate(fd, off_t(keep)) == 0 else { throw StorageError.system("truncate \(url.path)", errno: errno) }
        }
        guard fsync(fd) == 0 else { throw StorageError.system("fsync \(url.path)", errno: errno) }
        if keep == 0 {
            guard unlink(url.path) == 0 else { throw StorageError.system("remove \(url.path)", errno: errno) }
        } else {
            try rename(openFile: url)
        }
    }

    /// The length of the file up to and including its last newline, reading backwards in chunks.
    private static func lengthThroughLastNewline(_ fd: Int32, size: Int, path: String) throws(StorageError) -> Int {
        let chunk = 64 * 1024
        var end = size
        var buffer = [UInt8](repeating: 0, count: chunk)
        while end > 0 {
            let start = max(0, end - chunk)
            let count = end - start
            let read = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(start)) }
            guard read == count else { throw StorageError.system("read \(path)", errno: read < 0 ? errno : EIO) }
            if let index = buffer[0..<count].lastIndex(of: UInt8(ascii: "\n")) { return start + index + 1 }
            end = start
        }
        return 0
    }

    /// Deletes the oldest closed files beyond `retainFiles` and those older than `retainAge`. Best
    /// effort: a file that cannot be deleted now is tried again at the next rotation.
    private func applyRetention(now: Date) {
        guard limits.retainFiles > 0 || limits.retainAge > .zero,
            let closed = try? Self.files(in: directory, prefix: prefix)
                .filter({ $0.url.lastPathComponent.hasSuffix(Self.closedSuffix) })
        else { return }
        let tooMany = limits.retainFiles > 0 ? max(0, closed.count - limits.retainFiles) : 0
        let cutoff = limits.retainAge > .zero ? now.addingTimeInterval(-limits.retainAge.timeInterval) : nil
        let recent = now.addingTimeInterval(-limits.keepRecent.timeInterval)
        var doomed = [URL]()
        for (index, file) in closed.enumerated() {
            let modified = Self.modificationDate(of: file.url)
            let expired = cutoff.map { cutoff in modified.map { $0 < cutoff } ?? false } ?? false
            guard index < tooMany || expired else { continue }
            // Files changed within `keepRecent` stay whatever the limits say (an unknown date too).
            if limits.keepRecent > .zero, modified.map({ $0 >= recent }) ?? true { continue }
            doomed.append(file.url)
        }
        guard !doomed.isEmpty else { return }
        for url in doomed { unlink(url.path) }
        try? DurableFile.syncDirectory(directory)
    }

    /// When `url` was last changed; nil if that cannot be read.
    static func modificationDate(of url: URL) -> Date? {
        (try? url.resourceValues(forKeys: [.contentModificationDateKey]))?.contentModificationDate
    }

    /// This log's files (open and closed) in `directory`, by sequence number.
    static func files(in directory: URL, prefix: String) throws(StorageError) -> [(url: URL, sequence: Int)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw StorageError("cannot list \(directory.path): \(error.localizedDescription)")
        }
        return names.compactMap { name -> (url: URL, sequence: Int)? in
            guard name.hasPrefix(prefix + "-"), name.hasSuffix(closedSuffix) || name.hasSuffix(openSuffix),
                let sequence = sequenceNumber(of: name)
            else { return nil }
            return (directory.appendingPathComponent(name), sequence)
        }
        .sorted { $0.sequence < $1.sequence }
    }

    /// `records-20261121T100000Z-000042.jsonl` → 42.
    static func sequenceNumber(of name: String) -> Int? {
        guard let dot = name.firstIndex(of: "."), let dash = name[..<dot].lastIndex(of: "-") else { return nil }
        return Int(name[name.index(after: dash)..<dot])
    }

    private static func padded(_ sequence: Int) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// UTC `yyyyMMdd'T'HHmmss'Z'`.
    static func stamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}

/// The C `close` and `rename`, named apart from the methods of ``RotatingJSONLinesFile``.
private func systemClose(_ fd: Int32) -> Int32 {
    close(fd)
}

private func systemRename(_ from: String, _ to: String) -> Int32 {
    rename(from, to)
}

extension Duration {
    /// This duration in seconds, for `Date` arithmetic.
    var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
