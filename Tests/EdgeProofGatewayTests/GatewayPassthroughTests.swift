import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

@Suite("Gateway in passthrough mode")
struct GatewayPassthroughTests {
    @Test func forwardsNonceRequestsAndEnvelopesUnchanged() async throws {
        let harness = try await GatewayHarness.start(mode: .passthrough, allowlist: nil)
        let topics = harness.topics
        do {
            let signer = TestSigner()
            let envelope = try await SignedEnvelope.sign(claims(agent: "agent-001", signer: signer), with: signer)
            let geo = MQTTUserProperty(
                EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: envelope.claims).headerValue)

            let correlation = try await harness.publishNonceRequest(from: "agent-001", properties: [geo])
            let properties = agentProperties(envelope)
            try await harness.publishEnvelope(envelope.serialized(), from: "agent-001", properties: properties)
            // Not even JSON, from an agent no allowlist knows: passthrough checks nothing.
            let garbage = Data("{not an envelope".utf8)
            try await harness.publishEnvelope(
                garbage, from: "agent-002", properties: [MQTTUserProperty("X-Trace", "1")])

            try await harness.collectorInbox.wait { _ in harness.verified.count >= 3 }
            let verified = harness.verified
            #expect(verified.count == 3)

            let request = try #require(verified.first { $0.topic == topics.verifiedNonceRequest("agent-001") })
            #expect(request.payload == Data("{}".utf8))
            #expect(request.properties.responseTopic == topics.agentNonceResponse("agent-001"))
            #expect(request.properties.correlationData == correlation)
            #expect(request.properties.userProperties == [geo])
            #expect(request.qos == .atLeastOnce)

            let forwarded = try #require(verified.first { $0.topic == topics.verifiedMetrics("agent-001") })
            #expect(forwarded.payload == envelope.serialized())
            #expect(forwarded.properties.userProperties == properties)

            let bad = try #require(verified.first { $0.topic == topics.verifiedMetrics("agent-002") })
            #expect(bad.payload == garbage)
            #expect(bad.properties.userProperties == [MQTTUserProperty("X-Trace", "1")])

            #expect(try harness.inbox("agent-001").messages.isEmpty)
            #expect(try harness.inbox("agent-002").messages.isEmpty)
            #expect(harness.gateway.counters["forwarded"] == 3)
            #expect(harness.gateway.counters["rejected"] == nil)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }
}
