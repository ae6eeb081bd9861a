import Foundation

/// What identifies a version of a file cheaply: modification time, size and inode (an atomic
/// replacement by rename changes the inode even within one timestamp tick).
struct FileFingerprint: Sendable, Hashable {
    var modified: Date?
    var size: UInt64?
    var inode: UInt64?

    /// nil when the file does not exist or cannot be examined.
    init?(of path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        modified = attributes[.modificationDate] as? Date
        size = (attributes[.size] as? NSNumber)?.uint64Value
        inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value
    }
}
