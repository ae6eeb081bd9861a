import Foundation

/// A validated allowlist, indexed by agent name and by key hash, with every public key parsed
/// once at load (and held by its entry).
public struct Allowlist: Sendable {
    public private(set) var document: AllowlistDocument
    private var indexByName: [String: Int]
    private var indexByHash: [PublicKeyHash: Int]
    /// Active entries with a trust block, by EK public hash.
    private var indexByEKHash: [PublicKeyHash: Int]
    /// Re-attestations later than the entries' trust blocks (the attestation ledger's), by agent name.
    private var reattestedAt: [String: Double] = [:]

    /// Validates `document`: supported version, valid and unique names, parsable keys whose hash
    /// matches the stored one, unique hashes, well-formed places, trust blocks that claim TPM evidence,
    /// no EK under two active entries. (That a trust block's `signing_key_public` holds the entry's key is
    /// `allowlist verify-evidence`'s check: it needs TPM structures, and loading stays cheap.)
    public init(_ document: AllowlistDocument) throws(AllowlistError) {
        guard document.version == 1 else {
            throw AllowlistError("version \(document.version) is not supported (expected 1)")
        }
        for place in document.policy?.globalPlaces ?? [] {
            if let problem = place.validationProblem { throw AllowlistError("policy: \(problem)") }
        }
        if let problem = document.policy?.location?.validationProblem {
            throw AllowlistError("policy.location_requirements: \(problem)")
        }
        var indexByName = [String: Int]()
        var indexByHash = [PublicKeyHash: Int]()
        var indexByEKHash = [PublicKeyHash: Int]()
        indexByName.reserveCapacity(document.agents.count)
        indexByHash.reserveCapacity(document.agents.count)
        // Keys parsed here are set after the loop, and only if there are any: a mutation inside it would let
        // the compiler make the shared agents array unique before the first entry, copying every entry of a
        // decoded document (parsed already) for nothing (70 MB at 100,000 agents).
        var unparsed: [(index: Int, key: AgentPublicKey)] = []
        for index in document.agents.indices {
            let entry = document.agents[index]
            let key = try Self.validate(entry, at: index)
            if entry.key.parsed == nil { unparsed.append((index, key)) }
            guard indexByName[entry.name] == nil else {
                throw AllowlistError("agents[\(index)] (\(entry.name)): the name appears more than once")
            }
            if let other = indexByHash[key.hash] {
                throw AllowlistError(
                    "agents[\(index)] (\(entry.name)): the public key is already used by \(document.agents[other].name)")
            }
            if let trust = entry.trustSummary, entry.status == .active {
                if let other = indexByEKHash[trust.ekPublicHash] {
                    throw AllowlistError(
                        "agents[\(index)] (\(entry.name)): EK \(trust.ekPublicHash) is already used by active agent "
                            + document.agents[other].name)
                }
                indexByEKHash[trust.ekPublicHash] = index
            }
            indexByName[entry.name] = index
            indexByHash[key.hash] = index
        }
        try Self.validate(document.enrollment)
        var document = document
        for (index, key) in unparsed { document.agents[index].setParsedKey(key) }
        self.document = document
        self.indexByName = indexByName
        self.indexByHash = indexByHash
        self.indexByEKHash = indexByEKHash
    }

    public init() {
        self.document = AllowlistDocument()
        self.indexByName = [:]
        self.indexByHash = [:]
        self.indexByEKHash = [:]
    }

    public var entries: [AllowlistEntry] { document.agents }
    public var policy: GeographicPolicy { document.policy ?? GeographicPolicy() }
    public var count: Int { document.agents.count }

    public func entry(named name: String) -> AllowlistEntry? {
        indexByName[name].map { document.agents[$0] }
    }

    public func entry(forKeyHash hash: PublicKeyHash) -> AllowlistEntry? {
        indexByHash[hash].map { document.agents[$0] }
    }

    /// The active entry whose trust block names this EK.
    public func activeEntry(forEKHash hash: PublicKeyHash) -> AllowlistEntry? {
        indexByEKHash[hash].map { document.agents[$0] }
    }

    /// The `enrollment` section (empty when the file has none).
    public var enrollment: EnrollmentSection { document.enrollment ?? EnrollmentSection() }

    /// Replaces the `enrollment` section (an empty one leaves the file without it).
    public mutating func setEnrollment(_ enrollment: EnrollmentSection) throws(AllowlistError) {
        try Self.validate(enrollment)
        document.enrollment = enrollment.isEmpty ? nil : enrollment
    }

    /// Replaces the entry of the same name (a re-provisioned key, new evidence); fails as ``add(_:)`` does.
    public mutating func replace(_ entry: AllowlistEntry) throws(AllowlistError) {
        guard let index = indexByName[entry.name] else { throw AllowlistError("no agent named \(entry.name)") }
        var document = self.document
        document.agents[index] = entry
        self = try Allowlist(document)
    }

    public func publicKey(forAgent name: String) -> AgentPublicKey? {
        indexByName[name].map { Self.key(of: document.agents[$0]) }
    }

    /// Adds a validated entry; fails on a duplicate name or key.
    public mutating func add(_ entry: AllowlistEntry) throws(AllowlistError) {
        var document = self.document
        document.agents.append(entry)
        let reattestedAt = self.reattestedAt
        self = try Allowlist(document)
        self.reattestedAt = reattestedAt
    }

    /// Removes the agent named `name`; fails if there is none.
    public mutating func remove(named name: String) throws(AllowlistError) {
        guard let index = indexByName[name] else { throw AllowlistError("no agent named \(name)") }
        var document = self.document
        document.agents.remove(at: index)
        var reattestedAt = self.reattestedAt
        reattestedAt[name] = nil
        self = try Allowlist(document)
        self.reattestedAt = reattestedAt
    }

    /// When `entry`'s key was last attested (seconds since 1970): its trust block's `attested_at` or a
    /// later re-attestation; nil for a key without TPM evidence.
    public func attestedAt(of entry: AllowlistEntry) -> Double? {
        guard let own = entry.trustSummary?.attestedAt else { return nil }
        guard let later = reattestedAt[entry.name] else { return own }
        return max(own, later)
    }

    /// Records that `agent`'s key `keyHash` was attested again at `time` (seconds since 1970), as a line
    /// of the attestation ledger says. Ignored for an agent not on the allowlist, without TPM evidence, or
    /// whose key is another one now (the line is about a key the allowlist no longer holds).
    public mutating func recordAttestation(agent: String, keyHash: PublicKeyHash, at time: Double) {
        guard let index = indexByName[agent] else { return }
        let entry = document.agents[index]
        guard entry.publicKeyHash == keyHash, entry.trustSummary != nil else { return }
        if let known = reattestedAt[agent], known >= time { return }
        reattestedAt[agent] = time
    }

    /// Sets an agent's status (revoking keeps the entry, so the reason for rejection stays specific).
    public mutating func setStatus(_ status: AgentStatus, forAgent name: String) throws(AllowlistError) {
        guard let index = indexByName[name] else { throw AllowlistError("no agent named \(name)") }
        if let ek = document.agents[index].trustSummary?.ekPublicHash {
            if status == .active, let other = indexByEKHash[ek], other != index {
                throw AllowlistError("\(name): EK \(ek) is already used by active agent \(document.agents[other].name)")
            }
            indexByEKHash[ek] = status == .active ? index : nil
        }
        document.agents[index].status = status
    }

    /// The agent-verification step shared by gateway and collector: the agent exists, is active,
    /// and signs with the allowlisted key. Returns the entry and its parsed key.
    public func verifyAgent(named name: String, keyHash: PublicKeyHash) throws(ValidationFailure)
        -> (entry: AllowlistEntry, key: AgentPublicKey)
    {
        guard let index = indexByName[name] else {
            throw ValidationFailure(
                .agentNotFound, "agent \(name) is not on the allowlist", details: ["agent_name": .string(name)])
        }
        let entry = document.agents[index]
        guard entry.status == .active else {
            throw ValidationFailure(
                .agentRevoked, "agent \(name) is revoked", details: ["agent_name": .string(name)])
        }
        let key = Self.key(of: entry)
        guard key.hash == keyHash else {
            throw ValidationFailure(
                .publicKeyHashMismatch, "tpm_public_key_hash does not match the allowlisted key of agent \(name)",
                details: ["agent_name": .string(name), "expected": .string(key.hash.hex), "received": .string(keyHash.hex)])
        }
        return (entry, key)
    }

    /// ``verifyAgent(named:keyHash:)``, then `requirement` (`agent_not_attested`): the key's trust level and
    /// the age of its last attestation. Returns the trust the envelope's record carries.
    public func verifyAgent(
        named name: String, keyHash: PublicKeyHash, requirement: TrustRequirement, now: Date
    ) throws(ValidationFailure) -> (entry: AllowlistEntry, key: AgentPublicKey, trust: RecordTrust) {
        let (entry, key) = try verifyAgent(named: name, keyHash: keyHash)
        let trust = RecordTrust(level: entry.trustLevel, attestedAt: attestedAt(of: entry))
        try requirement.check(agent: name, level: trust.level, attestedAt: trust.attestedAt, now: now)
        return (entry, key, trust)
    }

    private static func validate(_ entry: AllowlistEntry, at index: Int) throws(AllowlistError) -> AgentPublicKey {
        let label = "agents[\(index)] (\(entry.name))"
        guard AgentName.isValid(entry.name) else {
            throw AllowlistError(
                "agents[\(index)]: name \"\(entry.name)\" is invalid; use 1-\(AgentName.maximumLength) letters, digits, '.', '_' or '-'")
        }
        let key: AgentPublicKey
        do {
            key = try entry.key.parsed ?? AgentPublicKey(pemRepresentation: entry.publicKey)
        } catch {
            throw AllowlistError("\(label): public_key is unusable: \(error)")
        }
        guard key.hash == entry.publicKeyHash else {
            throw AllowlistError(
                "\(label): tpm_public_key_hash \(entry.publicKeyHash) does not match public_key (its hash is \(key.hash))")
        }
        guard Timestamp.date(from: entry.createdAt) != nil else {
            throw AllowlistError("\(label): created_at \"\(entry.createdAt)\" is not an ISO 8601 UTC time")
        }
        for place in entry.allowedPlaces {
            if let problem = place.validationProblem { throw AllowlistError("\(label): \(problem)") }
        }
        if let problem = entry.locationRequirements?.validationProblem {
            throw AllowlistError("\(label): location_requirements: \(problem)")
        }
        if let trust = entry.trustSummary {
            guard trust.level != .configured else {
                throw AllowlistError("\(label): a trust block claims TPM evidence; its level cannot be configured")
            }
            guard trust.attestedAt != nil else {
                throw AllowlistError("\(label): the trust block's attested_at is not an ISO 8601 UTC time")
            }
        }
        return key
    }

    private static func validate(_ enrollment: EnrollmentSection?) throws(AllowlistError) {
        guard let enrollment else { return }
        let names = enrollment.expected.map { ("expected", $0.name) } + enrollment.pending.map { ("pending", $0.name) }
            + enrollment.rejected.map { ("rejected", $0.name) }
        for (list, name) in names where !AgentName.isValid(name) {
            throw AllowlistError("enrollment.\(list): name \"\(name)\" is invalid")
        }
        for pending in enrollment.pending where pending.trust.level == .configured {
            throw AllowlistError("enrollment.pending (\(pending.name)): the trust level cannot be configured")
        }
        let places = enrollment.expected.flatMap { $0.allowedPlaces ?? [] } + enrollment.pending.flatMap(\.requestedPlaces)
        for place in places {
            if let problem = place.validationProblem { throw AllowlistError("enrollment: \(problem)") }
        }
    }

    /// The entry's parsed key: ``init(_:)`` parses every entry it keeps.
    private static func key(of entry: AllowlistEntry) -> AgentPublicKey {
        guard let key = entry.key.parsed else { fatalError("allowlist entry \(entry.name) was kept unparsed") }
        return key
    }
}

/// A malformed or inconsistent allowlist, with the entry and the problem spelled out.
public struct AllowlistError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
