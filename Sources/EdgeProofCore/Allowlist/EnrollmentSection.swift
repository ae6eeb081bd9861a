/// The allowlist's `enrollment` section: what the enrollment book decides with, besides the agents.
/// `expected` pairs an operator registered ahead (`allowlist expect`: approved automatically when the EK
/// matches), `pending` enrollments waiting for an operator (`allowlist approve`), `rejected` name ↔ EK pairs
/// an operator turned away (`allowlist reject`), refused from then on. Absent in a file, it is empty.
public struct EnrollmentSection: Sendable, Hashable, Codable {
    public var expected: [ExpectedEnrollment]
    public var pending: [PendingEnrollment]
    public var rejected: [RejectedEnrollment]

    public init(
        expected: [ExpectedEnrollment] = [], pending: [PendingEnrollment] = [], rejected: [RejectedEnrollment] = []
    ) {
        self.expected = expected
        self.pending = pending
        self.rejected = rejected
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        expected = try container.decodeIfPresent([ExpectedEnrollment].self, forKey: .expected) ?? []
        pending = try container.decodeIfPresent([PendingEnrollment].self, forKey: .pending) ?? []
        rejected = try container.decodeIfPresent([RejectedEnrollment].self, forKey: .rejected) ?? []
    }

    public var isEmpty: Bool { expected.isEmpty && pending.isEmpty && rejected.isEmpty }

    public func expected(named name: String) -> ExpectedEnrollment? { expected.first { $0.name == name } }
    public func pending(named name: String) -> PendingEnrollment? { pending.first { $0.name == name } }

    public func isRejected(name: String, ekPublicHash: PublicKeyHash) -> Bool {
        rejected.contains { $0.name == name && $0.ekPublicHash == ekPublicHash }
    }

    /// Holds `enrollment` as the one pending enrollment of its name (a newer submission replaces an older one).
    public mutating func replacePending(_ enrollment: PendingEnrollment) {
        pending.removeAll { $0.name == enrollment.name }
        pending.append(enrollment)
    }
}

/// A name ↔ EK pair the operator registered before the agent enrolled: its enrollment is approved
/// automatically ("expected"), with these places when given, else with the places the agent asked for.
public struct ExpectedEnrollment: Sendable, Hashable, Codable {
    public var name: String
    public var ekPublicHash: PublicKeyHash
    public var allowedPlaces: [AllowedPlace]?
    /// ISO 8601 UTC.
    public var addedAt: String

    enum CodingKeys: String, CodingKey {
        case name
        case ekPublicHash = "ek_public_hash"
        case allowedPlaces = "allowed_places"
        case addedAt = "added_at"
    }

    public init(name: String, ekPublicHash: PublicKeyHash, allowedPlaces: [AllowedPlace]? = nil, addedAt: String) {
        self.name = name
        self.ekPublicHash = ekPublicHash
        self.allowedPlaces = allowedPlaces
        self.addedAt = addedAt
    }
}

/// A verified enrollment waiting for an operator, with why it was not approved automatically.
public struct PendingEnrollment: Sendable, Hashable, Codable {
    public var name: String
    /// PEM SubjectPublicKeyInfo of the TPM signing key.
    public var publicKey: String
    public var trust: TrustBlock
    public var requestedPlaces: [AllowedPlace]
    /// ISO 8601 UTC.
    public var receivedAt: String
    public var note: String
    /// The quote's clock, so that approving it gives the attestation ledger its first reading.
    public var clock: TPMClockReading?

    enum CodingKeys: String, CodingKey {
        case name
        case publicKey = "public_key"
        case trust
        case requestedPlaces = "requested_places"
        case receivedAt = "received_at"
        case note, clock
    }

    public init(
        name: String, publicKey: String, trust: TrustBlock, requestedPlaces: [AllowedPlace], receivedAt: String,
        note: String, clock: TPMClockReading? = nil
    ) {
        self.name = name
        self.publicKey = publicKey
        self.trust = trust
        self.requestedPlaces = requestedPlaces
        self.receivedAt = receivedAt
        self.note = note
        self.clock = clock
    }
}

/// A name ↔ EK pair the operator refused: its enrollments are refused (`enrollment_rejected`).
public struct RejectedEnrollment: Sendable, Hashable, Codable {
    public var name: String
    public var ekPublicHash: PublicKeyHash
    /// ISO 8601 UTC.
    public var rejectedAt: String

    enum CodingKeys: String, CodingKey {
        case name
        case ekPublicHash = "ek_public_hash"
        case rejectedAt = "rejected_at"
    }

    public init(name: String, ekPublicHash: PublicKeyHash, rejectedAt: String) {
        self.name = name
        self.ekPublicHash = ekPublicHash
        self.rejectedAt = rejectedAt
    }
}
