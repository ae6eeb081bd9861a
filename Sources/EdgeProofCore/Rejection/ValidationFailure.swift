/// Thrown by every validation step: the reason plus a specific sentence and structured details.
/// Components turn it into a wire-level ``Rejection``.
public struct ValidationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: RejectionReason
    /// A sentence specific to this failure ("nonce expired 12 s ago").
    public let message: String
    /// Extra facts for `details` on the wire (never secrets).
    public let details: [String: JSONValue]

    public init(_ reason: RejectionReason, _ message: String? = nil, details: [String: JSONValue] = [:]) {
        self.reason = reason
        self.message = message ?? reason.summary
        self.details = details
    }

    public var description: String { "\(reason.code): \(message)" }

    /// The same failure about a parsed envelope: its nonce in `details` lets the agent tell which of its
    /// envelopes was refused. Existing details win.
    public func about(_ envelope: SignedEnvelope?) -> ValidationFailure {
        guard let envelope else { return self }
        return ValidationFailure(
            reason, message, details: details.merging(["nonce": .string(envelope.claims.nonce)]) { existing, _ in existing })
    }
}
