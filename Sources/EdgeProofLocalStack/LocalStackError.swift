/// mosquitto, swtpm or a component process could not be started, stopped or reached: the message says which
/// and carries the service's own output where there is one.
public struct LocalStackError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
