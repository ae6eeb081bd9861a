/// Payload of `agents/{agent}/receipts`: sent by a collector only after the record is durably written.
public struct Receipt: Sendable, Hashable, Codable {
    /// The nonce of the accepted envelope; identifies it to the agent.
    public var nonce: String
    /// The id of the collector that stored it.
    public var collector: String
    public var status: String
    /// ISO 8601 UTC.
    public var storedAt: String

    public static let accepted = "accepted"

    enum CodingKeys: String, CodingKey {
        case nonce, collector, status
        case storedAt = "stored_at"
    }

    public init(nonce: String, collector: String, storedAt: String) {
        self.nonce = nonce
        self.collector = collector
        self.status = Self.accepted
        self.storedAt = storedAt
    }
}
