import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("The allowlist's trust blocks and enrollment section")
struct AllowlistEnrollmentTests {
    private func entry(_ enrollee: Enrollee, status: AgentStatus = .active) -> AllowlistEntry {
        var entry = AllowlistEntry(
            name: enrollee.name, key: enrollee.key, createdAt: "2026-12-01T10:00:00.000Z",
            allowedPlaces: [AllowedPlace(region: "US")], trust: enrollee.enrollment().trust)
        entry.status = status
        return entry
    }

    @Test("two active entries with the same EK are refused; a revoked one may share it, until activated")
    func sameEKUnderTwoActiveEntriesIsRefused() throws {
        let first = try Enrollee("agent-001", ek: 1)
        let second = try Enrollee("agent-002", ek: 1)
        #expect(throws: AllowlistError.self) { try Allowlist(AllowlistDocument(agents: [entry(first), entry(second)])) }
        var allowlist = try Allowlist(AllowlistDocument(agents: [entry(first), entry(second, status: .revoked)]))
        #expect(allowlist.activeEntry(forEKHash: first.ek)?.name == "agent-001")
        #expect(throws: AllowlistError.self) { try allowlist.setStatus(.active, forAgent: "agent-002") }
        try allowlist.setStatus(.revoked, forAgent: "agent-001")
        try allowlist.setStatus(.active, forAgent: "agent-002")
        #expect(allowlist.activeEntry(forEKHash: first.ek)?.name == "agent-002")
    }

    @Test("a trust block cannot claim the level configured")
    func trustBlockLevelIsNotConfigured() throws {
        var enrollee = try Enrollee("agent-001")
        enrollee.level = .configured
        #expect(throws: AllowlistError.self) { try Allowlist(AllowlistDocument(agents: [entry(enrollee)])) }
    }

    @Test("the enrollment section and trust blocks round-trip through YAML and JSON; absent, it stays absent",
        arguments: ["allowlist.yaml", "allowlist.json"])
    func enrollmentSectionRoundTrips(fileName: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending(fileName))
        let enrolled = try Enrollee("agent-001", ek: 1)
        let waiting = try Enrollee("agent-002", ek: 2)
        var allowlist = try Allowlist(AllowlistDocument(agents: [entry(enrolled)]))
        try file.save(allowlist)
        #expect(!(try String(contentsOf: file.url, encoding: .utf8)).contains("enrollment"))
        let enrollment = waiting.enrollment(clock: 42)
        try allowlist.setEnrollment(
            EnrollmentSection(
                expected: [
                    ExpectedEnrollment(
                        name: "agent-003", ekPublicHash: waiting.ek, allowedPlaces: [AllowedPlace(region: "DE")],
                        addedAt: "2026-12-01T10:00:00.000Z")
                ],
                pending: [
                    PendingEnrollment(
                        name: "agent-002", publicKey: waiting.key.pemRepresentation, trust: enrollment.trust,
                        requestedPlaces: enrollment.requestedPlaces, receivedAt: "2026-12-01T10:00:00.000Z",
                        note: "new agent", clock: enrollment.clock)
                ],
                rejected: [
                    RejectedEnrollment(name: "agent-004", ekPublicHash: enrolled.ek, rejectedAt: "2026-12-01T10:00:00.000Z")
                ]))
        try file.save(allowlist)
        let loaded = try file.load()
        #expect(loaded.document == allowlist.document)
        #expect(loaded.entry(named: "agent-001")?.trust == enrolled.enrollment().trust)
        #expect(loaded.enrollment.isRejected(name: "agent-004", ekPublicHash: enrolled.ek))
    }
}
