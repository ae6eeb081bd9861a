import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Testing

/// mosquitto 2.0.11 refuses a PUBLISH outside the client's rights with PUBACK reason 135 and then closes
/// the connection, and libmosquitto resends what was in flight: at the MQTT level some envelopes reach the
/// gateway and collector twice. The system must still lose nothing and store nothing twice.
@Suite("A refused publish among an agent's envelopes", .serialized, .timeLimit(.minutes(10)))
struct RefusedPublishSystemTests {
    @Test(
        "every other envelope in flight is stored exactly once and answered as stored; only the refused one fails",
        arguments: ["passthrough", "enforce"])
    func refusalLosesAndDuplicatesNothing(mode: String) async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1"])
        defer { system.close() }
        let (monitor, statuses) = try await system.monitor()
        let services = try await OnlineServices(
            try system.collector("collector-1").services + system.gateway(mode: mode).services,
            system: system, statuses: statuses,
            waitFor: ["collector/collector-1", "gateway/gateway"])
        let agent = try await Link("agent-001", system: system, cleanStart: false)
        let signer = try #require(system.signers["agent-001"])
        let topics = TopicTree()

        var envelopes: [SignedEnvelope] = []
        for _ in 0..<40 {
            let nonce = try await agent.nonce().nonce
            envelopes.append(
                try await SignedEnvelope.sign(
                    attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: nonce), with: signer))
        }
        // All in flight at once, with one message to another agent's topic in the middle.
        var messages = envelopes.map { MQTTMessage(topic: topics.agentMetrics("agent-001"), payload: $0.serialized()) }
        messages.insert(
            MQTTMessage(topic: topics.agentMetrics("agent-002"), payload: envelopes[0].serialized()), at: 20)
        let results = try await agent.client.publish(contentsOf: messages)
        #expect(results[20]?.reasonCode == 135, "the forbidden publish is refused: \(String(describing: results[20]))")
        let otherFailures = results.enumerated().filter { $0.offset != 20 && $0.element != nil }
        #expect(otherFailures.isEmpty, "no other publish fails: \(otherFailures.prefix(3))")
        try await agent.resubscribe()

        // Each envelope ends stored: a receipt, or (for a copy that came twice) "stored already".
        let deadline = ContinuousClock.now + .seconds(30)
        func unanswered() -> [String] {
            envelopes.map(\.claims.nonce).filter { nonce in
                !agent.outcomes(for: nonce).contains { outcome in
                    outcome.isReceipt || outcome.rejection?.details["stored_at"] != nil
                }
            }
        }
        while !unanswered().isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(unanswered().isEmpty, "envelopes without a receipt: \(unanswered().count)")
        for envelope in envelopes {
            let wrong = agent.outcomes(for: envelope.claims.nonce).filter {
                !$0.isReceipt && $0.rejection?.details["stored_at"] == nil
            }
            #expect(wrong.isEmpty, "\(envelope.claims.nonce.prefix(8)): \(wrong)")
        }
        let stored = try system.records(of: "collector-1").map(\.nonce)
        #expect(stored.sorted() == envelopes.map(\.claims.nonce).sorted(), "stored \(stored.count) of 40")

        await agent.close()
        try await services.stop()
        await monitor.shutdown()
    }
}
