/// One agent in the allowlist, as stored in the file.
public struct AllowlistEntry: Sendable, Hashable, Codable {
    public var name: String
    /// PEM SubjectPublicKeyInfo of the agent's TPM signing key.
    public var publicKey: String
    public var publicKeyHash: PublicKeyHash
    public var status: AgentStatus
    /// ISO 8601 UTC.
    public var createdAt: String
    public var allowedPlaces: [AllowedPlace]

    enum CodingKeys: String, CodingKey {
        case name
        case publicKey = "public_key"
        case publicKeyHash = "tpm_public_key_hash"
        case status
        case createdAt = "created_at"
        case allowedPlaces = "allowed_places"
    }

    public init(
        name: String, publicKey: String, publicKeyHash: PublicKeyHash, status: AgentStatus = .active,
        createdAt: String, allowedPlaces: [AllowedPlace]
    ) {
        self.name = name
        self.publicKey = publicKey
        self.publicKeyHash = publicKeyHash
        self.status = status
        self.createdAt = createdAt
        self.allowedPlaces = allowedPlaces
    }

    /// An entry for `key`, with the hash computed from the key itself.
    public init(name: String, key: AgentPublicKey, createdAt: String, allowedPlaces: [AllowedPlace]) {
        self.init(
            name: name, publicKey: key.pemRepresentation, publicKeyHash: key.hash, status: .active,
            createdAt: createdAt, allowedPlaces: allowedPlaces)
    }
}

public enum AgentStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case active
    case revoked
}
