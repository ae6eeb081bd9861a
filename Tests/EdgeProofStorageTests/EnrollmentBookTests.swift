import Crypto
import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

/// A verified enrollment as a registrar hands it over; the book does not re-verify evidence, so the trust
/// block's TPM fields are placeholders here (`DeviceTrustBlockTests` audits real ones).
struct Enrollee {
    let name: String
    var ek: PublicKeyHash
    var key: AgentPublicKey
    var level: TrustLevel = .tpmEKCert

    init(_ name: String, ek: UInt8 = 1) throws {
        self.name = name
        self.ek = PublicKeyHash(subjectPublicKeyInfo: Data([ek, 0xEE]))
        self.key = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
    }

    mutating func reprovision() throws {
        key = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
    }

    func enrollment(clock: UInt64? = nil, resetCount: UInt32 = 3) -> VerifiedEnrollment {
        let attestation = SignedAttestation(attest: "AAAA", signature: "AAAA", qualifyingData: "00")
        let trust = TrustBlock(
            level: level, ekPublicHash: ek, akPublic: "AAAA", signingKeyPublic: "AAAA", certify: attestation,
            quote: QuoteEvidence(attest: "AAAA", signature: "AAAA", qualifyingData: "00", pcrValues: [:]),
            enrolledAt: "2026-12-01T10:00:00.000Z", attestedAt: "2026-12-01T10:00:00.000Z", approvedBy: "")
        return VerifiedEnrollment(
            agent: name, signingKey: key, trust: trust, requestedPlaces: [AllowedPlace(region: "US", state: "Texas")],
            clock: clock.map { TPMClockReading(clock: $0, resetCount: resetCount, restartCount: 0, safe: true) })
    }
}

/// A book over real files in a fresh directory.
struct BookRig {
    let directory: TemporaryDirectory
    let file: AllowlistFile
    let ledger: AttestationLedger
    let book: EnrollmentBook

    init(fileName: String = "allowlist.yaml", minimumCompactionLines: Int = 1024) throws {
        directory = try TemporaryDirectory()
        file = AllowlistFile(url: directory.appending(fileName))
        ledger = AttestationLedger(besideAllowlist: file, minimumCompactionLines: minimumCompactionLines)
        book = EnrollmentBook(allowlist: file, ledger: ledger)
    }

    func anotherBook() -> EnrollmentBook { EnrollmentBook(allowlist: file, ledger: ledger) }

    func entry(_ name: String) throws -> AllowlistEntry? { try file.load().entry(named: name) }

    func approveExpected(_ enrollee: Enrollee, clock: UInt64? = 100) throws {
        try book.expect(name: enrollee.name, ekPublicHash: enrollee.ek, places: nil, now: Date())
        #expect(try book.submit(enrollee.enrollment(clock: clock), now: Date()) == .approved(enrollee.level))
    }
}

extension EnrollmentDecision {
    var refusalCode: String? {
        if case .refused(let failure) = self { failure.reason.code } else { nil }
    }

    var isPending: Bool {
        if case .pending = self { true } else { false }
    }
}

@Suite("The enrollment book: every rule of an enrollment, real files")
struct EnrollmentBookTests {
    @Test("a new name waits for an operator; approve needs the same EK hash and then adds the entry and its trust")
    func newNameIsPendingUntilApprovedWithTheSameHash() throws {
        let rig = try BookRig()
        defer { rig.directory.remove() }
        let agent = try Enrollee("agent-001")
        #expect(try rig.book.submit(agent.enrollment(clock: 10), now: Date()).isPending)
        let pending = try #require(try rig.file.load().enrollment.pending(named: "agent-001"))
        #expect(pending.trust.ekPublicHash == agent.ek)
        #expect(try rig.entry("agent-001") == nil)

        let other = try Enrollee("agent-001", ek: 9)
        #expect(throws: StorageError.self) {
            try rig.book.approve(name: "agent-001", ekPublicHash: other.ek, places: nil, approvedBy: "operator:t", now: Date())
        }
        #expect(try rig.entry("agent-001") == nil, "a different hash approves nothing")
        let entry = try rig.book.approve(
            name: "agent-001", ekPublicHash: agent.ek, places: nil, approvedBy: "operator:t", now: Date())
        #expect(entry.trust?.approvedBy == "operator:t")
        let loaded = try #require(try rig.entry("agent-001"))
        #expect(loaded.trustLevel == .tpmEKCert)
        #expect(loaded.publicKeyHash == agent.key.hash)
        #expect(loaded.allowedPlaces == [AllowedPlace(region: "US", state: "Texas")])
        #expect(try rig.file.load().enrollment.pending.isEmpty)
        #expect(try rig.ledger.latest()["agent-001"]?.clock == 10, "approval gives the ledger its first reading")
    }

    @Test("an expected name ↔ EK pair is approved automatically with the expected places; another EK waits")
    func expectedPairIsApprovedAutomatically() throws {
        let rig = try BookRig(fileName: "allowlist.json")
        defer { rig.directory.remove() }
        let agent = try Enrollee("agent-001")
        let places = [AllowedPlace(region: "DE")]
        try rig.book.expect(name: "agent-001", ekPublicHash: agent.ek, places: places, now: Date())
        try rig.book.expect(name: "agent-002", ekPublicHash: agent.ek, places: nil, now: Date())
        #expect(try rig.book.submit(agent.enrollment(), now: Date()) == .approved(.tpmEKCert))
        let entry = try #require(try rig.entry("agent-001"))
        #expect(entry.trust?.approvedBy == "expected")
        #expect(entry.allowedPlaces == places)
        #expect(try rig.file.load().enrollment.expected(named: "agent-001") == nil)

        let stranger = try Enrollee("agent-002", ek: 2)
        let decision = try rig.book.submit(stranger.enrollment(), now: Date())
        #expect(decision.isPending, "expected with another EK: never automatic")
        #expect(try rig.entry("agent-002") == nil)
    }

    @Test("the same name, EK and key re-attests: a ledger line, the allowlist file untouched (inode and mtime)")
    func reattestationAppendsToTheLedgerOnly() throws {
        let rig = try BookRig()
        defer { rig.directory.remove() }
        let agent = try Enrollee("agent-001")
        try rig.approveExpected(agent)
        let before = try FileManager.default.attributesOfItem(atPath: rig.file.url.path)
        let fresh = rig.anotherBook()
        for clock in [200, 300] as [UInt64] {
            #expect(try fresh.submit(agent.enrollment(clock: clock), now: Date()) == .approved(.tpmEKCert))
        }
        let after = try FileManager.default.attributesOfItem(atPath: rig.file.url.path)
        #expect(before[.systemFileNumber] as? Int == after[.systemFileNumber] as? Int)
        #expect(before[.modificationDate] as? Date == after[.modificationDate] as? Date)
        let latest = try #require(try rig.ledger.latest()["agent-001"])
        #expect(latest.clock == 300)
        #expect(latest.keyHash == agent.key.hash)
        #expect(latest.tpmReset == nil)
    }

    @Test("a reset count that went up is a TPM reset; a clock that went back under the same count is refused")
    func resetIsRecordedAndRollbackRefused() throws {
        let rig = try BookRig()
        defer { rig.directory.remove() }
        let agent = try Enrollee("agent-001")
        try rig.approveExpected(agent, clock: 5_000)
        let rollback = try rig.book.submit(agent.enrollment(clock: 4_000), now: Date())
        #expect(rollback.refusalCode == "attestation_clock_rollback")
        let replay = try rig.book.submit(agent.enrollment(clock: 5_000), now: Date())
        #expect(replay.refusalCode == "attestation_clock_rollback", "the same reading again is a replay")
        #expect(try rig.book.submit(agent.enrollment(clock: 50, resetCount: 4), now: Date()) == .approved(.tpmEKCert))
        let latest = try #require(try rig.ledger.latest()["agent-001"])
        #expect(latest.tpmReset == true)
        #expect(latest.resetCount == 4)
        let older = try rig.book.submit(agent.enrollment(clock: 9_000, resetCount: 3), now: Date())
        #expect(older.refusalCode == "attestation_clock_rollback", "a reset count that went down")
    }

    @Test("the same EK with a new signing key (re-provisioned) is approved and the entry updated")
    func reprovisionedKeyUpdatesTheEntry() throws {
        let rig = try BookRig()
        defer { rig.directory.remove() }
        var agent = try Enrollee("agent-001")
        try rig.approveExpected(agent)
        let old = agent.key.hash
        try agent.reprovision()
        #expect(try rig.book.submit(agent.enrollment(clock: 900), now: Date()) == .approved(.tpmEKCert))
        let entry = try #require(try rig.entry("agent-001"))
        #expect(entry.publicKeyHash == agent.key.hash)
        #expect(entry.publicKeyHash != old)
        #expect(entry.trust?.approvedBy == "expected", "who approved the EK still stands")
    }

    @Test("a different EK under an enrolled name, or a configured entry, waits for an operator")
    func otherEKOrConfiguredEntryIsPending() throws {
        let rig = try BookRig()
        defer { rig.directory.remove() }
        let agent = try Enrollee("agent-001")
        try rig.approveExpected(agent)
        let impostor = try Enrollee("agent-001", ek: 7)
        #expect(try rig.book.submit(impostor.enrollment(), now: Date()).isPending)
        #expect(try rig.entry("agent-001")?.trust?.ekPublicHash == agent.ek, "the enrolled entry is unchanged")

        var allowlist = try rig.file.load()
        let configured = try Enrollee("agent-002", ek: 2)
        try allowlist.add(
            AllowlistEntry(name: "agent-002", key: configured.key, createdAt: "2026-12-01T10:00:00.000Z",
                allowedPlaces: [AllowedPlace(region: "US")]))
        try rig.file.save(allowlist)
        guard case .pending(let note) = try rig.book.submit(configured.enrollment(), now: Date()) else {
            Issue.record("a configured entry was decided automatically")
            return
        }
        #expect(note.contains("configured"))
        #expect(try rig.entry("agent-002")?.trustLevel == .configured)
    }

    @Test("a newer submission replaces the pending one of the same name")
    func newerSubmissionReplacesPending() throws {
        let rig = try BookRig()
        defer { rig.directory.remove() }
        _ = try rig.book.submit(try Enrollee("agent-001", ek: 1).enrollment(), now: Date())
        let second = try Enrollee("agent-001", ek: 2)
        _ = try rig.book.submit(second.enrollment(), now: Date())
        let pending = try rig.file.load().enrollment.pending
        #expect(pending.count == 1)
        #expect(pending.first?.trust.ekPublicHash == second.ek)
    }

    @Test("refusals: revoked agent, rejected name and EK, an EK another active agent holds")
    func refusals() throws {
        let rig = try BookRig()
        defer { rig.directory.remove() }
        let agent = try Enrollee("agent-001")
        try rig.approveExpected(agent)
        let thief = try Enrollee("agent-002")  // the same EK as agent-001
        #expect(try rig.book.submit(thief.enrollment(), now: Date()).refusalCode == "ek_in_use")

        let stranger = try Enrollee("agent-003", ek: 3)
        #expect(try rig.book.submit(stranger.enrollment(), now: Date()).isPending)
        try rig.book.reject(name: "agent-003", now: Date())
        #expect(try rig.book.submit(stranger.enrollment(), now: Date()).refusalCode == "enrollment_rejected")
        #expect(try rig.file.load().enrollment.pending.isEmpty)

        var allowlist = try rig.file.load()
        try allowlist.setStatus(.revoked, forAgent: "agent-001")
        try rig.file.save(allowlist)
        #expect(try rig.book.submit(agent.enrollment(clock: 1_000), now: Date()).refusalCode == "agent_revoked")
        // Revoked, agent-001 no longer holds its EK: another name may be enrolled with it (by an operator).
        #expect(try rig.book.submit(thief.enrollment(), now: Date()).isPending)
    }

    @Test("two books on one allowlist submitting at once lose nothing (the file lock serializes them)")
    func concurrentBooksLoseNothing() async throws {
        let rig = try BookRig(fileName: "allowlist.json")
        defer { rig.directory.remove() }
        let books = [rig.book, rig.anotherBook()]
        let count = 40
        let enrollees = try (0..<count).map { try Enrollee(String(format: "agent-%03d", $0), ek: UInt8($0)) }
        for enrollee in enrollees {
            try rig.book.expect(name: enrollee.name, ekPublicHash: enrollee.ek, places: nil, now: Date())
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, enrollee) in enrollees.enumerated() {
                let book = books[index % 2]
                let enrollment = enrollee.enrollment(clock: 10)
                group.addTask {
                    let decision = try await Task.detached { try book.submit(enrollment, now: Date()) }.value
                    #expect(decision == .approved(.tpmEKCert))
                }
            }
            try await group.waitForAll()
        }
        let allowlist = try rig.file.load()
        #expect(allowlist.count == count, "every approval is in the file")
        #expect(allowlist.enrollment.expected.isEmpty)
        #expect(try rig.ledger.latest().count == count)
    }
}
