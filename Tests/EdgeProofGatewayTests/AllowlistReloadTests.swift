import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("Gateway allowlist reload")
struct AllowlistReloadTests {
    @Test func changedAllowlistFileTakesEffectWithoutRestart() async throws {
        let agent001 = TestSigner()
        let agent002 = TestSigner()
        let now = Timestamp.string(from: Date())
        var allowlist = try Allowlist(
            AllowlistDocument(agents: [
                AllowlistEntry(
                    name: "agent-001", key: try agent001.publicKey, createdAt: now, allowedPlaces: Places.usOnly)
            ]))
        let harness = try await GatewayHarness.start(mode: .enforce, allowlist: allowlist)
        do {
            func sendEnvelope() async throws -> SignedEnvelope {
                let envelope = try await SignedEnvelope.sign(
                    claims(agent: "agent-002", signer: agent002), with: agent002)
                try await harness.publishEnvelope(
                    envelope.serialized(), from: "agent-002", properties: agentProperties(envelope))
                return envelope
            }

            _ = try await sendEnvelope()
            #expect(try await harness.rejection(number: 1, for: "agent-002").0.reasonCode == "agent_not_found")

            // Added as revoked: envelope and nonce request are refused as revoked.
            var entry = AllowlistEntry(
                name: "agent-002", key: try agent002.publicKey, createdAt: now, allowedPlaces: Places.usOnly)
            entry.status = .revoked
            try allowlist.add(entry)
            try harness.allowlistFile.save(allowlist)
            try await harness.waitForEvents("allowlist_reloaded", count: 1)
            _ = try await sendEnvelope()
            #expect(try await harness.rejection(number: 2, for: "agent-002").0.reasonCode == "agent_revoked")
            let correlation = try await harness.publishNonceRequest(from: "agent-002")
            let (revoked, message) = try await harness.rejection(number: 3, for: "agent-002")
            #expect(revoked.reasonCode == "agent_revoked")
            #expect(message.properties.correlationData == correlation)

            // A broken file is refused and the list in force stays.
            try Data("{\"version\": 1, \"agents\": [{\"name\": ".utf8).write(to: harness.allowlistFile.url)
            let failures = try await harness.waitForEvents("allowlist_reload_failed", count: 1)
            #expect(failures.first?.details["file"] == .string(harness.allowlistFile.url.path))
            #expect(harness.gateway.allowlist.entry(named: "agent-002")?.status == .revoked)

            // Activated: the next envelope passes, without a restart.
            try allowlist.setStatus(.active, forAgent: "agent-002")
            try harness.allowlistFile.save(allowlist)
            try await harness.waitForEvents("allowlist_reloaded", count: 2)
            let accepted = try await sendEnvelope()
            try await harness.collectorInbox.wait { _ in !harness.verified.isEmpty }
            #expect(harness.verified.map(\.topic) == [harness.topics.verifiedMetrics("agent-002")])
            #expect(harness.verified.first?.payload == accepted.serialized())
            #expect(try harness.inbox("agent-002").messages.count == 3)
            #expect(harness.gateway.counters["allowlist_reloads"] == 2)
            #expect(harness.gateway.counters["allowlist_reload_failures"] == 1)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }
}
