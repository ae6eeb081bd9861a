import Crypto
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

@Suite("Gateway decisions: trust requirement")
struct MessageInspectorTrustTests {
    @Test("in enforce mode a nonce request from a configured key is refused where tpm-ek-cert is required")
    func nonceRequestBelowTheRequiredLevelIsRefused() throws {
        var configuration = GatewayConfiguration(mode: .enforce, allowlistFile: "unused.json")
        configuration.trustRequirement = TrustRequirement(minimumLevel: .tpmEKCert)
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: "agent-001",
                key: try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation),
                createdAt: Timestamp.string(from: Date()), allowedPlaces: [AllowedPlace(region: "US")]))
        let verdict = MessageInspector(configuration: configuration).inspect(
            MQTTMessage(topic: "edgeproof/v1/agents/agent-001/nonce/request", payload: Data()), allowlist: allowlist,
            now: Date())
        guard case .reject(let rejection, let agent, _) = verdict else {
            Issue.record("not rejected: \(verdict)")
            return
        }
        #expect(agent == "agent-001")
        #expect(rejection.reasonCode == "agent_not_attested")
        #expect(rejection.validationType == .agentVerification)

        configuration.trustRequirement = TrustRequirement()
        guard case .forward = MessageInspector(configuration: configuration).inspect(
            MQTTMessage(topic: "edgeproof/v1/agents/agent-001/nonce/request", payload: Data()), allowlist: allowlist,
            now: Date())
        else {
            Issue.record("not forwarded without a requirement")
            return
        }
    }
}
