import EdgeProofCollector
import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@Suite("Collector: require_trust_level and max_attestation_age_s, and the trust a record carries")
struct TrustRequirementIntakeTests {
    let signer = TestSigner()
    let authority: NonceAuthority

    init() throws {
        authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
    }

    func allowlist(trust: TrustBlock?) throws -> Allowlist {
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: "agent-001", key: try signer.publicKey, createdAt: Timestamp.string(from: Date()),
                allowedPlaces: [AllowedPlace(region: "US")], trust: trust))
        return allowlist
    }

    func check(_ requirement: TrustRequirement, allowlist: Allowlist, at now: Date = Date()) async throws
        -> EnvelopeIntake.Verdict
    {
        let intake = EnvelopeIntake(
            collectorID: "collector-1", nonceAuthority: authority, replayCache: ReplayCache(),
            maximumEnvelopeBytes: SignedEnvelope.defaultMaximumSize, trustRequirement: requirement)
        let envelope = try await signer.envelope(nonce: authority.issue(for: signer.publicKeyHash, now: now).token,
            signedAt: now)
        return intake.check(
            Data(try envelope.serialized()), topic: topics.verifiedMetrics("agent-001"), agent: "agent-001",
            allowlist: allowlist, receivedAt: now)
    }

    func record(of verdict: EnvelopeIntake.Verdict) throws -> StoredRecord {
        guard case .accepted(let accepted) = verdict else { throw TestFixtureError("not accepted: \(verdict)") }
        return try StoredRecord(strictJSON: accepted.recordLine)
    }

    func failure(of verdict: EnvelopeIntake.Verdict) throws -> ValidationFailure {
        guard case .rejected(let failure) = verdict else { throw TestFixtureError("not rejected: \(verdict)") }
        return failure
    }

    @Test("a configured key is refused as agent_not_attested where tpm-ek-cert is required, naming both levels")
    func configuredKeyBelowTheRequiredLevelIsRefused() async throws {
        let failure = try failure(
            of: try await check(TrustRequirement(minimumLevel: .tpmEKCert), allowlist: try allowlist(trust: nil)))
        #expect(failure.reason == .agentNotAttested)
        #expect(failure.reason.validationType == .agentVerification)
        #expect(failure.details["trust_level"] == .string("configured"))
        #expect(failure.details["required_trust_level"] == .string("tpm-ek-cert"))
    }

    @Test("a pinned EK is below tpm-ek-cert; a per-agent level lets one agent through where the global one would not")
    func perAgentLevelOverridesTheGlobalOne() async throws {
        let pinned = try allowlist(trust: .sample(level: .tpmEKPinned))
        #expect(try failure(of: try await check(TrustRequirement(minimumLevel: .tpmEKCert), allowlist: pinned)).reason
            == .agentNotAttested)
        let relaxed = TrustRequirement(minimumLevel: .tpmEKCert, minimumLevelByAgent: ["agent-001": .tpmEKPinned])
        #expect(try record(of: try await check(relaxed, allowlist: pinned)).trustLevel == .tpmEKPinned)
        let stricter = TrustRequirement(minimumLevel: .configured, minimumLevelByAgent: ["agent-001": .tpmEKCert])
        #expect(try failure(of: try await check(stricter, allowlist: pinned)).reason == .agentNotAttested)
    }

    @Test("the record carries the key's trust level and attestation time at acceptance")
    func recordCarriesTrustLevelAndAttestationTime() async throws {
        let attested = Date(timeIntervalSince1970: 1_795_000_000)
        let stored = try record(
            of: try await check(
                TrustRequirement(minimumLevel: .tpmEKCert),
                allowlist: try allowlist(trust: .sample(level: .tpmEKCert, attestedAt: attested))))
        #expect(stored.trustLevel == .tpmEKCert)
        #expect(stored.attestedAt == Timestamp.string(from: attested))

        let configured = try record(of: try await check(TrustRequirement(), allowlist: try allowlist(trust: nil)))
        #expect(configured.trustLevel == .configured)
        #expect(configured.attestedAt == nil)
    }

    @Test("a stale attestation is refused; a re-attestation from the ledger makes the same key current again")
    func staleAttestationIsRefusedUntilReattested() async throws {
        let now = Date()
        var allowlist = try allowlist(trust: .sample(attestedAt: now.addingTimeInterval(-7200)))
        let requirement = TrustRequirement(minimumLevel: .tpmEKCert, maximumAttestationAge: 3600)
        let stale = try failure(of: try await check(requirement, allowlist: allowlist, at: now))
        #expect(stale.reason == .agentNotAttested)
        #expect(stale.message.contains("longer ago than max_attestation_age_s 3600"))

        // A ledger line about another key changes nothing; one about this key does.
        allowlist.recordAttestation(
            agent: "agent-001", keyHash: PublicKeyHash(subjectPublicKeyInfo: [1]),
            at: now.timeIntervalSince1970 - 10)
        #expect(try failure(of: try await check(requirement, allowlist: allowlist, at: now)).reason == .agentNotAttested)
        allowlist.recordAttestation(agent: "agent-001", keyHash: signer.publicKeyHash, at: now.timeIntervalSince1970 - 10)
        let current = try record(of: try await check(requirement, allowlist: allowlist, at: now))
        #expect(current.attestedAt == Timestamp.string(from: Date(timeIntervalSince1970: now.timeIntervalSince1970 - 10)))
    }

    @Test("a configured key has no attestation to go stale: only the level can refuse it")
    func configuredKeyIsNotRefusedForAge() async throws {
        let requirement = TrustRequirement(minimumLevel: .configured, maximumAttestationAge: 60)
        #expect(try record(of: try await check(requirement, allowlist: try allowlist(trust: nil))).trustLevel
            == .configured)
    }
}
