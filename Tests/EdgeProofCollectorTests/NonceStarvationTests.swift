import EdgeProofCollector
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

@Suite("Nonce issuing cannot be starved by a client joining the collectors' subscription")
struct NonceStarvationTests {
    /// An agent certificate tries to join the collectors' `$share` group (and the plain filter) while two
    /// collectors run: the broker refuses both SUBSCRIBEs, and every request of several agents is answered
    /// promptly. With a SUBSCRIBE that is granted and filtered only at delivery, the intruder would take
    /// its turn in the round robin and a third of the requests would reach no collector.
    @Test(arguments: [CollectorConfiguration.NonceSubscription.shared, .all])
    func everyNonceRequestIsAnsweredPromptlyWhileAnAgentTriesToJoinTheCollectorsSubscription(
        mode: CollectorConfiguration.NonceSubscription
    ) async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let first = try await RunningCollector.start(
            world.configuration(id: "collector-1", subscription: mode), statusInbox: session.gatewayInbox)
        let second = try await RunningCollector.start(
            world.configuration(id: "collector-2", subscription: mode), statusInbox: session.gatewayInbox)

        let intruder = try await world.client("agent-003")
        let stolen = Inbox(intruder)
        for filter in [
            "$share/collectors/\(topics.allVerifiedNonceRequests)", topics.allVerifiedNonceRequests,
            "$share/collectors/\(prefix)/verified/#",
        ] {
            let refusal = await #expect(throws: MQTTError.self, "SUBSCRIBE \(filter)") {
                try await intruder.subscribe(filter)
            }
            #expect(refusal?.reasonCode == 135, "SUBSCRIBE \(filter): \(String(describing: refusal))")
        }
        #expect(intruder.isConnected)

        // agent-001 is allowlisted (answered with a nonce), agent-002 is not (answered with agent_not_found):
        // both answers carry the request's correlation data.
        let requests = 24
        let clock = ContinuousClock()
        var sent: [(correlation: Data, agent: String, at: ContinuousClock.Instant)] = []
        for index in 0..<requests {
            let agent = index.isMultiple(of: 2) ? "agent-001" : "agent-002"
            sent.append((try await session.requestNonce(for: agent), agent, clock.now))
        }
        func answer(_ request: (correlation: Data, agent: String, at: ContinuousClock.Instant)) async throws -> Bool {
            let inbox = request.agent == "agent-001" ? session.agentInbox : session.strangerInbox
            let topic = request.agent == "agent-001"
                ? topics.agentNonceResponse("agent-001") : topics.agentRejections("agent-002")
            return try await inbox.first(timeout: .seconds(10)) {
                $0.topic == topic && $0.properties.correlationData == request.correlation
            } != nil
        }
        var unanswered = 0
        for request in sent where try await !answer(request) { unanswered += 1 }
        let elapsed = clock.now - sent[0].at
        #expect(unanswered == 0, "\(unanswered) of \(requests) nonce requests unanswered (\(mode))")
        // A swallowed request is never answered; the others come within the (load-tolerant) wait above, and
        // all of them together well before the agents would time out.
        #expect(elapsed < .seconds(15), "answers took \(elapsed)")
        #expect(stolen.messages.isEmpty)

        await intruder.shutdown()
        try await first.stop()
        try await second.stop()
        await session.close()
    }
}
