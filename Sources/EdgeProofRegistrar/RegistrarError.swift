/// A registrar that cannot start: the file or setting and what is wrong with it.
public struct RegistrarError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
