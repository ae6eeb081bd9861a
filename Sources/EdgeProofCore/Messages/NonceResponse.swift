/// Payload of `agents/{agent}/nonce/response`: a nonce for the requesting agent.
public struct NonceResponse: Sendable, Hashable, Codable {
    public var nonce: String
    /// ISO 8601 UTC.
    public var expiresAt: String

    enum CodingKeys: String, CodingKey {
        case nonce
        case expiresAt = "expires_at"
    }

    public init(nonce: String, expiresAt: String) {
        self.nonce = nonce
        self.expiresAt = expiresAt
    }

    public init(_ issued: IssuedNonce) {
        self.init(nonce: issued.token, expiresAt: Timestamp.string(from: issued.expiresAt))
    }
}

/// Payload of a nonce request (may also be empty). Informative only: the topic names the agent.
public struct NonceRequest: Sendable, Hashable, Codable {
    public var agentName: String?
    public var publicKeyHash: PublicKeyHash?

    enum CodingKeys: String, CodingKey {
        case agentName = "agent_name"
        case publicKeyHash = "tpm_public_key_hash"
    }

    public init(agentName: String? = nil, publicKeyHash: PublicKeyHash? = nil) {
        self.agentName = agentName
        self.publicKeyHash = publicKeyHash
    }
}

extension NonceResponse {
    /// Reads a nonce response strictly (``StrictJSONDecoder``): the agent signs the nonce it names.
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(NonceResponse.self, from: payload)
    }
}

extension NonceRequest {
    /// Reads a non-empty nonce request strictly (``StrictJSONDecoder``). Its members are informative (the
    /// topic names the agent), but a request that is not strict JSON of this shape is refused all the same.
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(NonceRequest.self, from: payload)
    }
}
