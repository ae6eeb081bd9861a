import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe file writes: data reaches the disk before the name points at it, and the directory
/// entry itself is synced, so a reader sees either the old file or the whole new one.
public enum DurableFile {
    /// Writes `data` to a temporary file beside `url`, syncs it, renames it over `url` and syncs
    /// the directory.
    public static func write(_ data: Data, to url: URL, permissions: mode_t = 0o644) throws(StorageError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw StorageError.system("create \(temporary.path)", errno: errno) }
        do throws(StorageError) {
            try writeAll(fd, data, path: temporary.path)
            guard fsync(fd) == 0 else { throw StorageError.system("fsync \(temporary.path)", errno: errno) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary.path)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw StorageError.system("rename to \(url.path)", errno: code)
        }
        try syncDirectory(directory)
    }

    /// Syncs a directory so that a create, rename or unlink inside it is durable.
    public static func syncDirectory(_ directory: URL) throws(StorageError) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.system("open directory \(directory.path)", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StorageError.system("fsync directory \(directory.path)", errno: errno) }
    }

    /// Writes every byte of `data` to `fd`, retrying short writes and interrupts.
    static func writeAll(_ fd: Int32, _ data: Data, path: String) throws(StorageError) {
        let result: Int32 = data.withUnsafeBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return 0 }
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return 0
        }
        guard result == 0 else { throw StorageError.system("write \(path)", errno: result) }
    }
}

/// The C `write`, named apart from ``DurableFile/write(_:to:permissions:)``.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
