import EdgeProofCore
import EdgeProofMQTT
import Foundation
import Testing

@testable import EdgeProofGateway

/// The decision alone, without a broker: for inputs an agent cannot produce through the broker's ACL.
@Suite("Gateway decisions")
struct MessageInspectorTests {
    static func inspector(_ mode: GatewayMode) -> MessageInspector {
        MessageInspector(configuration: GatewayConfiguration(mode: mode, allowlistFile: "unused.json"))
    }

    @Test(arguments: [GatewayMode.passthrough, .enforce])
    func dropsTopicsWithInvalidAgentNames(_ mode: GatewayMode) {
        for topic in [
            "edgeproof/v1/agents/-bad/metrics", "edgeproof/v1/agents/a b/nonce/request", "other/v1/agents/a/metrics",
        ] {
            let verdict = Self.inspector(mode).inspect(
                MQTTMessage(topic: topic, payload: Data("{}".utf8)), allowlist: Allowlist(), now: Date())
            guard case .drop = verdict else {
                Issue.record("\(topic) in \(mode) mode was not dropped: \(verdict)")
                continue
            }
        }
    }

    @Test func refusesOversizedNonceRequestsAndEnvelopesInEnforceMode() {
        let inspector = Self.inspector(.enforce)
        let big = Data(repeating: UInt8(ascii: " "), count: SignedEnvelope.defaultMaximumSize + 1)
        for topic in ["edgeproof/v1/agents/agent-001/nonce/request", "edgeproof/v1/agents/agent-001/metrics"] {
            let verdict = inspector.inspect(
                MQTTMessage(topic: topic, payload: big), allowlist: Allowlist(), now: Date())
            guard case .reject(let rejection, let agent, _) = verdict else {
                Issue.record("\(topic): not rejected")
                continue
            }
            #expect(agent == "agent-001")
            #expect(rejection.reasonCode == "payload_too_large")
            #expect(rejection.validationType == .requestValidation)
        }
    }

    @Test func passthroughKeepsEveryProperty() {
        let properties = MQTTProperties(
            userProperties: [MQTTUserProperty("Workload-Geo-ID", "{}")],
            responseTopic: "edgeproof/v1/agents/a/nonce/response",
            correlationData: Data([1, 2, 3]), messageExpiryInterval: 30, contentType: "application/json")
        let verdict = Self.inspector(.passthrough).inspect(
            MQTTMessage(topic: "edgeproof/v1/agents/a/nonce/request", payload: Data(), properties: properties),
            allowlist: Allowlist(), now: Date())
        guard case .forward(let forwarded) = verdict else {
            Issue.record("not forwarded: \(verdict)")
            return
        }
        #expect(forwarded.topic == "edgeproof/v1/verified/a/nonce/request")
        #expect(forwarded.properties == properties)
        #expect(forwarded.qos == .atLeastOnce)
        #expect(!forwarded.retain)
    }
}
