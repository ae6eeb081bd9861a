import Crypto
import EdgeProofCore
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

@Suite("Allowlist watcher: what gateways and collectors keep of the evidence")
struct AllowlistWatcherEvidenceTests {
    @Test("the watcher keeps each trust block's summary, not its evidence, at load and on reload")
    func keepsSummaryOnly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending("allowlist.json"))
        let ek = PublicKeyHash(subjectPublicKeyInfo: Data("watcher-ek".utf8))
        let block = TrustBlock(
            level: .tpmEKPinned, ekPublicHash: ek, akPublic: "AAEC", signingKeyPublic: "AAED",
            certify: SignedAttestation(attest: "AQ==", signature: "Ag==", qualifyingData: "00"),
            quote: QuoteEvidence(attest: "AQ==", signature: "Ag==", qualifyingData: "00", pcrValues: [:]),
            enrolledAt: "2026-11-21T10:00:00Z", attestedAt: "2026-11-21T10:00:00Z", approvedBy: "operator:test")
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: "agent-001",
                key: try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation),
                createdAt: "2026-11-21T10:00:00Z", allowedPlaces: [AllowedPlace(region: "US")], trust: block))
        try file.save(allowlist)

        let watcher = try AllowlistWatcher(
            file: file, pollInterval: .seconds(60), metrics: ServiceMetrics(), logger: Logger(label: "test"))
        #expect(watcher.allowlist.entries[0].trust == nil)
        #expect(watcher.allowlist.entries[0].trustSummary?.ekPublicHash == ek)
        #expect(watcher.allowlist.entries[0].trustLevel == .tpmEKPinned)
        #expect(await watcher.reload(trigger: .hangup))
        #expect(watcher.allowlist.entries[0].trust == nil)
        #expect(watcher.allowlist.entries[0].trustLevel == .tpmEKPinned)
        // The operator commands read the same file with all of its evidence.
        #expect(try file.load().entries[0].trust == block)
    }
}
