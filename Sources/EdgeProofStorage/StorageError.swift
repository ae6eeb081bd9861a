#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file could not be read, written or parsed; says which file and why.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    /// A failed system call, with the C library's text for `errno`.
    public static func system(_ operation: String, errno code: Int32) -> StorageError {
        StorageError("\(operation): \(String(cString: strerror(code)))")
    }

    public var description: String { message }
}
