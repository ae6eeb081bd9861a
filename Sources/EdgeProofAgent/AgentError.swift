/// The agent cannot work: bad configuration, spool or broker settings, TPM trouble.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
