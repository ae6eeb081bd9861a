import Foundation

/// One accepted envelope as a collector stores it: a line of a `*.jsonl` records file. Self-contained:
/// the original `protected`, `payload` and `signature` let `edgeproof verify` (or any JOSE library)
/// re-check it offline.
public struct StoredRecord: Sendable, Hashable, Codable {
    public var receivedAt: String
    public var collector: String
    public var topic: String
    public var agentName: String
    public var kid: PublicKeyHash
    public var geographicRegion: GeographicRegion
    public var geolocation: Geolocation?
    public var nonce: String
    public var metrics: MetricsBatch
    public var protected: String
    public var payload: String
    public var signature: String
    /// The trust level of the agent's key when the collector accepted the envelope, and when that key
    /// was last attested (ISO 8601; none for a `configured` key): how strongly the record's origin was
    /// proven. Absent in records of collectors before trust levels.
    public var trustLevel: TrustLevel?
    public var attestedAt: String?

    enum CodingKeys: String, CodingKey {
        case receivedAt = "received_at"
        case collector, topic
        case agentName = "agent_name"
        case kid
        case geographicRegion = "geographic_region"
        case geolocation, nonce, metrics, protected, payload, signature
        case trustLevel = "trust_level"
        case attestedAt = "attested_at"
    }

    public init(
        envelope: SignedEnvelope, topic: String, collector: String, receivedAt: String, trust: RecordTrust? = nil
    ) {
        self.receivedAt = receivedAt
        self.collector = collector
        self.topic = topic
        self.agentName = envelope.claims.agentName
        self.kid = envelope.header.keyID
        self.geographicRegion = envelope.claims.geographicRegion
        self.geolocation = envelope.claims.geolocation
        self.nonce = envelope.claims.nonce
        self.metrics = envelope.claims.metrics
        self.protected = envelope.protected
        self.payload = envelope.payload
        self.signature = envelope.signature
        self.trustLevel = trust?.level
        self.attestedAt = trust?.attestedAt.map { Timestamp.string(from: Date(timeIntervalSince1970: $0)) }
    }

    init(
        receivedAt: String, collector: String, topic: String, agentName: String, kid: PublicKeyHash,
        geographicRegion: GeographicRegion, geolocation: Geolocation?, nonce: String, metrics: MetricsBatch,
        protected: String, payload: String, signature: String
    ) {
        self.receivedAt = receivedAt
        self.collector = collector
        self.topic = topic
        self.agentName = agentName
        self.kid = kid
        self.geographicRegion = geographicRegion
        self.geolocation = geolocation
        self.nonce = nonce
        self.metrics = metrics
        self.protected = protected
        self.payload = payload
        self.signature = signature
    }

    /// The envelope in its original wire form.
    public var envelopeJSON: String {
        #"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(signature)"}"#
    }

    /// Re-verifies the stored envelope with the allowlisted key of its agent, and that the record's
    /// own fields agree with the signed claims. The envelope is read as the collector read it, by the
    /// one strict reader: a record of an envelope it refuses (a duplicate name, …) fails here too.
    public func verify(with allowlist: Allowlist) throws(ValidationFailure) {
        let envelope = try SignedEnvelope(parsing: Array(envelopeJSON.utf8))
        guard let key = allowlist.publicKey(forAgent: envelope.claims.agentName) else {
            throw ValidationFailure(.agentNotFound, "agent \(envelope.claims.agentName) is not on the allowlist")
        }
        try envelope.verifySignature(with: key)
        guard envelope.claims.agentName == agentName, envelope.claims.nonce == nonce,
            envelope.claims.geographicRegion == geographicRegion, envelope.header.keyID == kid,
            envelope.claims.geolocation == geolocation, envelope.claims.metrics == metrics
        else {
            throw ValidationFailure(.headerMismatch, "record fields differ from the signed claims")
        }
    }
}

extension StoredRecord {
    /// Reads a record line strictly (``StrictJSONDecoder``), as `edgeproof verify` does: a line with a
    /// duplicate name, a non-canonical kid or anything else a strict reader refuses is not a record. Its
    /// claims' parts are read by the claims' own readers.
    public init(strictJSON line: some Collection<UInt8>) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(StoredRecord.self, from: line)
    }
}
