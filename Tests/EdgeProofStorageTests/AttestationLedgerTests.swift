import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("The attestation ledger: append, tail, compaction")
struct AttestationLedgerTests {
    @Test("the default ledger sits beside the allowlist with .attestations.jsonl for its extension")
    func defaultPathIsBesideTheAllowlist() {
        let ledger = AttestationLedger(besideAllowlist: AllowlistFile(path: "/etc/edgeproof/allowlist.yaml"))
        #expect(ledger.url.path == "/etc/edgeproof/allowlist.attestations.jsonl")
    }

    @Test("a reader tailing the ledger sees every new line once, and the same last line per agent across compactions")
    func tailFollowsAcrossCompaction() throws {
        let rig = try BookRig(minimumCompactionLines: 8)
        defer { rig.directory.remove() }
        var agents = [Enrollee]()
        for index in 0..<3 {
            let agent = try Enrollee("agent-00\(index)", ek: UInt8(index))
            try rig.approveExpected(agent, clock: 1)
            agents.append(agent)
        }
        var position = LedgerPosition()
        var tailed = [String: AttestationLedger.Line]()
        AttestationLedger.merge(try rig.ledger.readAppended(since: &position), into: &tailed)
        #expect(tailed.count == 3)
        #expect(try rig.ledger.readAppended(since: &position).isEmpty, "nothing new, nothing read")

        var generations = Set<Substring>()
        for clock in 2...30 as ClosedRange<UInt64> {
            for agent in agents {
                #expect(try rig.book.submit(agent.enrollment(clock: clock), now: Date()) == .approved(.tpmEKCert))
            }
            let text = try String(contentsOf: rig.ledger.url, encoding: .utf8)
            generations.insert(text.prefix { $0 != "\n" })
            if clock.isMultiple(of: 4) {
                AttestationLedger.merge(try rig.ledger.readAppended(since: &position), into: &tailed)
                #expect(tailed.mapValues(\.clock) == ["agent-000": clock, "agent-001": clock, "agent-002": clock])
            }
        }
        #expect(generations.count > 3, "the ledger was compacted (rewritten, a new generation line) several times")
        AttestationLedger.merge(try rig.ledger.readAppended(since: &position), into: &tailed)
        #expect(tailed == (try rig.ledger.latest()))
        #expect(tailed["agent-002"]?.clock == 30)
        let lines = try String(contentsOf: rig.ledger.url, encoding: .utf8).split(separator: "\n")
        #expect(lines.count <= 13, "compaction keeps the file near max(4 × agents, minimum) lines, not 90")
    }

    @Test("a line still being written is read once it is complete")
    func partialLineWaits() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ledger = AttestationLedger(url: directory.appending("ledger.jsonl"))
        let line = AttestationLedger.Line(
            agent: "agent-001", attestedAt: "2026-12-01T10:00:00.000Z",
            keyHash: PublicKeyHash(subjectPublicKeyInfo: Data([1])), clock: nil)
        try ledger.append([line])
        let text = #"{"agent":"agent-002","attested_at":"2026-12-01T10:00:00.000Z","key_hash":""#
        let handle = try FileHandle(forWritingTo: ledger.url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        var position = LedgerPosition()
        #expect(try ledger.readAppended(since: &position).map(\.agent) == ["agent-001"])
        try handle.write(contentsOf: Data((line.keyHash.hex + "\"}\n").utf8))
        try handle.close()
        #expect(try ledger.readAppended(since: &position).map(\.agent) == ["agent-002"])
        #expect(try ledger.latest().count == 2)
    }
}
