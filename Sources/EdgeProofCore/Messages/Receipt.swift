import Foundation

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

extension Receipt {
    /// Reads a receipt strictly (``StrictJSONDecoder``): the agent deletes a spooled envelope on a receipt,
    /// so a receipt that is not strict JSON of this shape (a second `nonce`, …) is refused, not guessed at.
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(Receipt.self, from: payload)
    }

    /// ``init(strictJSON:)``, nil when refused.
    public init?(parsing payload: some Collection<UInt8>) {
        guard let receipt = try? Receipt(strictJSON: payload) else { return nil }
        self = receipt
    }
}

extension Receipt {
    /// The receipt's JSON (``WireJSON``). Strings only: nothing in it JSON cannot carry.
    public func jsonData() -> Data {
        (try? WireJSON.encode(self)) ?? Data()
    }
}
