/// One agent in the allowlist, as stored in the file.
public struct AllowlistEntry: Sendable, Hashable, Codable {
    public var name: String
    /// PEM SubjectPublicKeyInfo of the agent's TPM signing key.
    public var publicKey: String {
        get { key.text }
        set { key = .text(newValue) }
    }
    public var publicKeyHash: PublicKeyHash
    public var status: AgentStatus
    /// ISO 8601 UTC.
    public var createdAt: String
    public var allowedPlaces: [AllowedPlace]
    /// This agent's location rules; each key set here replaces the global policy's.
    public var locationRequirements: LocationRequirement?
    /// The TPM evidence behind the key; nil for a key an operator configured (`allowlist add`), and for
    /// an entry read with ``AllowlistEntry/evidenceReading`` set to `.summary` (gateways, collectors),
    /// which keeps only ``trustSummary``.
    public var trust: TrustBlock? {
        didSet { trustSummary = trust.map(TrustSummary.init) }
    }
    /// What the gateway's and collectors' checks need of the trust block.
    public private(set) var trustSummary: TrustSummary?
    /// `public_key` as text or parsed; an ``Allowlist`` holds only parsed entries.
    private(set) var key: Key

    enum CodingKeys: String, CodingKey {
        case name
        case publicKey = "public_key"
        case publicKeyHash = "tpm_public_key_hash"
        case status
        case createdAt = "created_at"
        case allowedPlaces = "allowed_places"
        case locationRequirements = "location_requirements"
        case trust
    }

    /// How strongly the key's origin was proven: the trust block's level, or `configured` without one.
    public var trustLevel: TrustLevel { trustSummary?.level ?? .configured }

    /// How much of a trust block decoding keeps (`decoder.userInfo[AllowlistEntry.evidenceReading]`).
    public enum EvidenceReading: Sendable {
        /// All of it (the default): the operator commands, the registrar, `verify-evidence`.
        case full
        /// Level, EK hash and attestation time: some 50 bytes instead of some 2 KB per agent. An entry read
        /// so cannot be encoded (saving it would drop the evidence).
        case summary
    }

    public static let evidenceReading = CodingUserInfoKey(rawValue: "edgeproof.allowlist.evidence")!

    public init(
        name: String, publicKey: String, publicKeyHash: PublicKeyHash, status: AgentStatus = .active,
        createdAt: String, allowedPlaces: [AllowedPlace], trust: TrustBlock? = nil
    ) {
        self.name = name
        self.key = .text(publicKey)
        self.publicKeyHash = publicKeyHash
        self.status = status
        self.createdAt = createdAt
        self.allowedPlaces = allowedPlaces
        self.trust = trust
        self.trustSummary = trust.map(TrustSummary.init)
    }

    /// An entry for `key`, with the hash computed from the key itself.
    public init(
        name: String, key: AgentPublicKey, createdAt: String, allowedPlaces: [AllowedPlace], trust: TrustBlock? = nil
    ) {
        self.name = name
        self.key = .parsed(key)
        self.publicKeyHash = key.hash
        self.status = .active
        self.createdAt = createdAt
        self.allowedPlaces = allowedPlaces
        self.trust = trust
        self.trustSummary = trust.map(TrustSummary.init)
    }

    /// Holds `parsed`, the key parsed from this entry's text.
    mutating func setParsedKey(_ parsed: AgentPublicKey) {
        key = Key(parsed, text: key.text)
    }

    /// `public_key`. Parsed, the text is dropped when it is exactly the key's own PEM (as `allowlist
    /// add` writes it), since the key gives it back: the text is some 220 bytes per agent that only
    /// saving the file needs. Any other text (other line breaks, a trailing newline) is kept as given.
    enum Key: Sendable {
        case text(String)
        case parsed(AgentPublicKey)
        case parsedKeepingText(AgentPublicKey, String)

        init(_ parsed: AgentPublicKey, text: String) {
            self = parsed.pemRepresentation == text ? .parsed(parsed) : .parsedKeepingText(parsed, text)
        }

        var parsed: AgentPublicKey? {
            switch self {
            case .parsed(let parsed), .parsedKeepingText(let parsed, _): parsed
            case .text: nil
            }
        }

        var text: String {
            switch self {
            case .text(let text), .parsedKeepingText(_, let text): text
            case .parsed(let parsed): parsed.pemRepresentation
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        let text = try container.decode(String.self, forKey: .publicKey)
        // Parsed here, while the text is at hand, so that the text of one entry is freed before the
        // next is read; a key that does not parse stays text for the allowlist to report.
        if let parsing = try? AgentPublicKey.parsing(pemRepresentation: text) {
            key = parsing.isOwnPEM ? .parsed(parsing.key) : .parsedKeepingText(parsing.key, text)
        } else {
            key = .text(text)
        }
        publicKeyHash = try container.decode(PublicKeyHash.self, forKey: .publicKeyHash)
        status = try container.decode(AgentStatus.self, forKey: .status)
        createdAt = try container.decode(String.self, forKey: .createdAt)
        allowedPlaces = try container.decode([AllowedPlace].self, forKey: .allowedPlaces)
        locationRequirements = try container.decodeIfPresent(LocationRequirement.self, forKey: .locationRequirements)
        switch decoder.userInfo[Self.evidenceReading] as? EvidenceReading ?? .full {
        case .full:
            trust = try container.decodeIfPresent(TrustBlock.self, forKey: .trust)
            trustSummary = trust.map(TrustSummary.init)
        case .summary:
            trust = nil
            trustSummary = try container.decodeIfPresent(TrustSummary.self, forKey: .trust)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(publicKey, forKey: .publicKey)
        try container.encode(publicKeyHash, forKey: .publicKeyHash)
        try container.encode(status, forKey: .status)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(allowedPlaces, forKey: .allowedPlaces)
        try container.encodeIfPresent(locationRequirements, forKey: .locationRequirements)
        if trust == nil, trustSummary != nil {
            throw EncodingError.invalidValue(
                self, EncodingError.Context(
                    codingPath: encoder.codingPath + [CodingKeys.trust],
                    debugDescription: "agent \(name): its trust evidence was not read (summary only); saving would drop it"))
        }
        try container.encodeIfPresent(trust, forKey: .trust)
    }

    // Equal entries have equal text, whether or not it is kept.
    public static func == (lhs: AllowlistEntry, rhs: AllowlistEntry) -> Bool {
        lhs.name == rhs.name && lhs.publicKeyHash == rhs.publicKeyHash && lhs.status == rhs.status
            && lhs.createdAt == rhs.createdAt && lhs.allowedPlaces == rhs.allowedPlaces
            && lhs.locationRequirements == rhs.locationRequirements
            && lhs.publicKey == rhs.publicKey && lhs.trust == rhs.trust && lhs.trustSummary == rhs.trustSummary
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(publicKey)
        hasher.combine(publicKeyHash)
        hasher.combine(status)
        hasher.combine(createdAt)
        hasher.combine(allowedPlaces)
        hasher.combine(locationRequirements)
        hasher.combine(trust)
        hasher.combine(trustSummary)
    }
}

public enum AgentStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case active
    case revoked
}
