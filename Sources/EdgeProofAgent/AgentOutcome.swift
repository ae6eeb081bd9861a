import EdgeProofCore

/// How one envelope ended, as ``Agent/runOnce()`` reports it.
public enum AgentOutcome: Sendable, Hashable, CustomStringConvertible {
    /// A collector stored the envelope; it left the spool.
    case accepted(Receipt)
    /// The gateway or a collector refused it (or refused the nonce request). A definitive envelope
    /// rejection removes the envelope from the spool; a refused nonce request keeps the batch there.
    case rejected(Rejection)
    /// No answer in time (or the broker is unreachable): the batch stays in the spool and is sent
    /// later, also after a restart.
    case pendingInSpool

    public var description: String {
        switch self {
        case .accepted(let receipt):
            "accepted by \(receipt.collector) at \(receipt.storedAt) (nonce \(receipt.nonce.prefix(12))…)"
        case .rejected(let rejection):
            "rejected by \(rejection.rejectedBy.rawValue): \(rejection.reasonCode ?? "unknown") "
                + "(\(rejection.validationType.rawValue)): \(rejection.error)"
        case .pendingInSpool:
            "no answer in time; the envelope stays in the spool"
        }
    }
}
