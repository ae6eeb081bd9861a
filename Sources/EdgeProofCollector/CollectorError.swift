/// The collector cannot start or run: bad configuration, or a file it needs is missing or broken.
/// Says which setting or file and why.
public struct CollectorError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
