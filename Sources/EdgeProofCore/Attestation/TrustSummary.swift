import Foundation

/// The part of a trust block the envelope checks use: the level, the EK (one active entry per EK) and
/// when the key was last attested.
public struct TrustSummary: Sendable, Hashable, Decodable {
    public var level: TrustLevel
    public var ekPublicHash: PublicKeyHash
    /// `attested_at` as seconds since 1970; nil when it is not an ISO 8601 UTC time (the allowlist
    /// refuses such an entry).
    public var attestedAt: Double?

    enum CodingKeys: String, CodingKey {
        case level
        case ekPublicHash = "ek_public_hash"
        case attestedAt = "attested_at"
    }

    public init(level: TrustLevel, ekPublicHash: PublicKeyHash, attestedAt: Double?) {
        self.level = level
        self.ekPublicHash = ekPublicHash
        self.attestedAt = attestedAt
    }

    public init(_ block: TrustBlock) {
        self.init(
            level: block.level, ekPublicHash: block.ekPublicHash,
            attestedAt: Timestamp.date(from: block.attestedAt)?.timeIntervalSince1970)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        level = try container.decode(TrustLevel.self, forKey: .level)
        ekPublicHash = try container.decode(PublicKeyHash.self, forKey: .ekPublicHash)
        attestedAt = Timestamp.date(from: try container.decode(String.self, forKey: .attestedAt))?.timeIntervalSince1970
    }
}
