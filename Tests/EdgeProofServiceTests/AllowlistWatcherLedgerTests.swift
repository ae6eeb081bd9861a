import Crypto
import EdgeProofCore
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

@Suite("Allowlist watcher: re-attestations from the ledger, without a new allowlist")
struct AllowlistWatcherLedgerTests {
    @Test("a ledger line refreshes the entry's attestation time in force; a reload keeps it; another key's line does not")
    func ledgerLinesRefreshAttestationTimes() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-watcher-ledger")
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending("allowlist.json"))
        let key = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
        let enrolled = Date(timeIntervalSince1970: 1_795_000_000)
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: "agent-001", key: key, createdAt: Timestamp.string(from: enrolled),
                allowedPlaces: [AllowedPlace(region: "US")], trust: .sample(attestedAt: enrolled)))
        try file.save(allowlist)
        let ledger = AttestationLedger(besideAllowlist: file)
        let watcher = try AllowlistWatcher(
            file: file, pollInterval: .seconds(60), metrics: ServiceMetrics(), logger: Logger(label: "test"))
        func attestedAt() throws -> Double? {
            let current = watcher.allowlist
            return current.attestedAt(of: try #require(current.entry(named: "agent-001")))
        }
        #expect(try attestedAt() == enrolled.timeIntervalSince1970)

        let later = enrolled.addingTimeInterval(86_400)
        try ledger.append([
            AttestationLedger.Line(
                agent: "agent-001", attestedAt: Timestamp.string(from: later.addingTimeInterval(5)),
                keyHash: PublicKeyHash(subjectPublicKeyInfo: [9]), clock: nil),
            AttestationLedger.Line(
                agent: "agent-001", attestedAt: Timestamp.string(from: later), keyHash: key.hash, clock: nil),
        ])
        watcher.readLedger()
        #expect(try attestedAt() == later.timeIntervalSince1970)

        // The allowlist changes (another agent): the reloaded list reads the whole ledger again.
        var changed = try file.load()
        try changed.add(
            AllowlistEntry(
                name: "agent-002",
                key: try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation),
                createdAt: Timestamp.string(from: enrolled), allowedPlaces: [AllowedPlace(region: "US")]))
        try file.save(changed)
        #expect(await watcher.reload(trigger: .fileChanged))
        #expect(watcher.allowlist.count == 2)
        #expect(try attestedAt() == later.timeIntervalSince1970)
    }
}
