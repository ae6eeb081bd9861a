import Crypto
import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("edgeproof allowlist pending, approve, reject, expect, verify-evidence")
struct AllowlistEnrollmentCommandTests {
    private func edgeproof(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(PackagePaths.edgeproofExecutable, arguments)
    }

    /// An enrollment as a registrar verified it; its TPM fields are placeholders (the book does not re-verify,
    /// and verify-evidence must fail them).
    private func enrollment(_ name: String, ek: String) async throws -> VerifiedEnrollment {
        let key = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
        let placeholder = SignedAttestation(attest: "AAAA", signature: "AAAA", qualifyingData: "00")
        let trust = TrustBlock(
            level: .tpmEKPinned, ekPublicHash: PublicKeyHash(subjectPublicKeyInfo: Data(ek.utf8)), akPublic: "AAAA",
            signingKeyPublic: "AAAA", certify: placeholder,
            quote: QuoteEvidence(attest: "AAAA", signature: "AAAA", qualifyingData: "00", pcrValues: [:]),
            enrolledAt: "2026-12-01T10:00:00.000Z", attestedAt: "2026-12-01T10:00:00.000Z", approvedBy: "")
        return VerifiedEnrollment(
            agent: name, signingKey: key, trust: trust, requestedPlaces: [AllowedPlace(region: "US", state: "Texas")],
            clock: TPMClockReading(clock: 1_000, resetCount: 1, restartCount: 0, safe: true))
    }

    @Test("an operator lists pending enrollments, approves only with the same EK hash, rejects, and pre-registers a pair")
    func operatorDecidesEnrollments() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending("allowlist.yaml"))
        let book = EnrollmentBook(allowlist: file, ledger: AttestationLedger(besideAllowlist: file))
        let first = try await enrollment("agent-001", ek: "ek-1")
        let third = try await enrollment("agent-003", ek: "ek-3")
        #expect(try book.submit(first, now: Date()) == .pending("new agent: waiting for an operator"))
        _ = try book.submit(third, now: Date())

        let pending = try await edgeproof(["allowlist", "pending", "--file", file.url.path])
        #expect(pending.status == 0, "\(pending.standardError)")
        #expect(pending.output.contains(first.trust.ekPublicHash.hex))
        #expect(pending.output.contains("tpm-ek-pinned"))
        #expect(pending.output.contains("US/Texas"))

        let wrong = try await edgeproof([
            "allowlist", "approve", "--file", file.url.path, "--name", "agent-001", "--ek-hash", third.trust.ekPublicHash.hex,
        ])
        #expect(wrong.status != 0)
        #expect(try file.load().entry(named: "agent-001") == nil, "a hash that differs approves nothing")
        let approved = try await edgeproof([
            "allowlist", "approve", "--file", file.url.path, "--name", "agent-001", "--place", "DE/Berlin",
            "--ek-hash", first.trust.ekPublicHash.hex.uppercased(),
        ])
        #expect(approved.status == 0, "\(approved.standardError)")
        let entry = try #require(try file.load().entry(named: "agent-001"))
        #expect(entry.trust?.approvedBy.hasPrefix("operator:") == true)
        #expect(entry.allowedPlaces == [AllowedPlace(region: "DE", state: "Berlin")])
        let listed = try await edgeproof(["allowlist", "list", "--file", file.url.path])
        #expect(listed.output.contains("TRUST"))
        #expect(listed.output.contains("tpm-ek-pinned"))
        #expect(try book.submit(first, now: Date()).isRefusal, "the approved reading again is a replay")
        var later = first
        later.clock?.clock += 60_000
        #expect(try book.submit(later, now: Date()) == .approved(.tpmEKPinned), "approved, the agent re-attests")

        #expect(try await edgeproof(["allowlist", "reject", "--file", file.url.path, "--name", "agent-003"]).status == 0)
        #expect(try book.submit(third, now: Date()).isRefusal)

        let second = try await enrollment("agent-002", ek: "ek-2")
        let expected = try await edgeproof([
            "allowlist", "expect", "--file", file.url.path, "--name", "agent-002", "--ek-hash",
            second.trust.ekPublicHash.hex, "--region", "FR",
        ])
        #expect(expected.status == 0, "\(expected.standardError)")
        #expect(try book.submit(second, now: Date()) == .approved(.tpmEKPinned))
        #expect(try file.load().entry(named: "agent-002")?.allowedPlaces == [AllowedPlace(region: "FR")])
    }

    @Test("verify-evidence prints one line per agent and exits non-zero when a trust block does not check out")
    func verifyEvidenceFailsPlaceholderEvidence() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending("allowlist.json"))
        let forged = try await enrollment("agent-001", ek: "ek-1")
        let configured = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
        try file.save(
            try Allowlist(
                AllowlistDocument(agents: [
                    AllowlistEntry(
                        name: "agent-001", key: forged.signingKey, createdAt: "2026-12-01T10:00:00.000Z",
                        allowedPlaces: [AllowedPlace(region: "US")], trust: forged.trust),
                    AllowlistEntry(
                        name: "agent-002", key: configured, createdAt: "2026-12-01T10:00:00.000Z",
                        allowedPlaces: [AllowedPlace(region: "US")]),
                ])))
        let store = directory.appending("trust-store")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        let made = try await ProcessRunner.run("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=Test CA",
            "-keyout", directory.appending("ca.key").path, "-out", store.appendingPathComponent("ca.pem").path,
            "-days", "2",
        ])
        try #require(made.status == 0, "\(made.standardError)")

        let result = try await edgeproof([
            "allowlist", "verify-evidence", "--file", file.url.path, "--trust-store", store.path,
        ])
        #expect(result.status != 0)
        #expect(result.output.contains("agent-001: FAILED ak_public"), "\(result.output)")
        #expect(result.output.contains("agent-002: ok (configured"))
    }
}

extension EnrollmentDecision {
    fileprivate var isRefusal: Bool {
        if case .refused = self { true } else { false }
    }
}
