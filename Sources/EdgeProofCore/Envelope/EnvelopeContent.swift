/// What an agent signs, before it has a nonce: the claims without nonce, key hash and signing time. The
/// agent's spool keeps it so that a batch can be signed, or re-signed with a fresh nonce, at any time.
public struct EnvelopeContent: Sendable, Hashable, Codable {
    public var geographicRegion: GeographicRegion
    public var geolocation: Geolocation?
    public var metrics: MetricsBatch

    enum CodingKeys: String, CodingKey {
        case geographicRegion = "geographic_region"
        case geolocation, metrics
    }

    public init(geographicRegion: GeographicRegion, geolocation: Geolocation? = nil, metrics: MetricsBatch) {
        self.geographicRegion = geographicRegion
        self.geolocation = geolocation
        self.metrics = metrics
    }
}

extension EnvelopeClaims {
    /// The claims of `content` signed by `agentName` with the key of `publicKeyHash` at `timestamp`.
    public init(
        _ content: EnvelopeContent, agentName: String, publicKeyHash: PublicKeyHash, nonce: String, timestamp: String
    ) {
        self.init(
            agentName: agentName, publicKeyHash: publicKeyHash, nonce: nonce, timestamp: timestamp,
            geographicRegion: content.geographicRegion, geolocation: content.geolocation, metrics: content.metrics)
    }

    /// What the claims say apart from who signed them, when and with which nonce.
    public var content: EnvelopeContent {
        EnvelopeContent(geographicRegion: geographicRegion, geolocation: geolocation, metrics: metrics)
    }
}
