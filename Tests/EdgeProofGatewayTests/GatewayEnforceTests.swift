import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

@Suite("Gateway in enforce mode")
struct GatewayEnforceTests {
    /// agent-001 is allowlisted for US/California/Santa Clara only; agent-002 is not on the list.
    static func allowlist(agent001: TestSigner) throws -> Allowlist {
        try Allowlist(
            AllowlistDocument(agents: [
                AllowlistEntry(
                    name: "agent-001", key: try agent001.publicKey, createdAt: Timestamp.string(from: Date()),
                    allowedPlaces: Places.usOnly)
            ]))
    }

    @Test func forwardsValidEnvelopeWithoutAgentUserProperties() async throws {
        let signer = TestSigner()
        let harness = try await GatewayHarness.start(mode: .enforce, allowlist: try Self.allowlist(agent001: signer))
        let topics = harness.topics
        do {
            let envelope = try await SignedEnvelope.sign(claims(agent: "agent-001", signer: signer), with: signer)
            let geo = MQTTUserProperty(
                EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: envelope.claims).headerValue)
            let correlation = try await harness.publishNonceRequest(from: "agent-001", properties: [geo])
            try await harness.publishEnvelope(
                envelope.serialized(), from: "agent-001",
                properties: agentProperties(envelope) + [MQTTUserProperty("X-Injected", "trust-me")])

            try await harness.collectorInbox.wait { _ in harness.verified.count >= 2 }
            let verified = harness.verified
            #expect(verified.count == 2)

            let request = try #require(verified.first { $0.topic == topics.verifiedNonceRequest("agent-001") })
            #expect(request.properties.responseTopic == topics.agentNonceResponse("agent-001"))
            #expect(request.properties.correlationData == correlation)
            #expect(request.properties.userProperties.isEmpty)

            let forwarded = try #require(verified.first { $0.topic == topics.verifiedMetrics("agent-001") })
            #expect(forwarded.payload == envelope.serialized())
            #expect(forwarded.properties.userProperties.isEmpty)
            #expect(forwarded.properties.responseTopic == nil)
            #expect(forwarded.qos == .atLeastOnce)
            // The collector can re-verify what it got.
            let received = try SignedEnvelope(parsing: forwarded.payload)
            try received.verifySignature(with: try signer.publicKey)

            #expect(try harness.inbox("agent-001").messages.isEmpty)
            #expect(harness.gateway.counters["forwarded"] == 2)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    /// One case: what an agent sends, and the rejection it must get back.
    struct Case: Sendable {
        var name: String
        var agent: String
        var reason: String
        var validationType: ValidationType
        var send: @Sendable (GatewayHarness) async throws -> Data?
    }

    @Test func rejectsWithAlignedErrorsAndForwardsNothing() async throws {
        let agent001 = TestSigner()
        let agent002 = TestSigner()
        let stranger = TestSigner()
        let harness = try await GatewayHarness.start(mode: .enforce, allowlist: try Self.allowlist(agent001: agent001))

        let cases: [Case] = [
            Case(
                name: "unknown agent, nonce request", agent: "agent-002", reason: "agent_not_found",
                validationType: .agentVerification
            ) { harness in
                try await harness.publishNonceRequest(from: "agent-002")
            },
            Case(
                name: "unknown agent, envelope", agent: "agent-002", reason: "agent_not_found",
                validationType: .agentVerification
            ) { harness in
                let envelope = try await sign(claims(agent: "agent-002", signer: agent002), by: agent002)
                try await harness.publishEnvelope(
                    envelope.serialized(), from: "agent-002", properties: agentProperties(envelope))
                return nil
            },
            Case(
                name: "wrong key", agent: "agent-001", reason: "public_key_hash_mismatch",
                validationType: .agentVerification
            ) { harness in
                let envelope = try await sign(claims(agent: "agent-001", signer: stranger), by: stranger)
                try await harness.publishEnvelope(envelope.serialized(), from: "agent-001")
                return nil
            },
            Case(
                name: "tampered payload", agent: "agent-001", reason: "bad_signature",
                validationType: .signatureVerification
            ) { harness in
                let envelope = try await sign(claims(agent: "agent-001", signer: agent001), by: agent001)
                var changed = envelope.claims
                changed.metrics.samples[0].values["cpu_percent"] = 99.0
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let payload = Base64URL.encode(try encoder.encode(changed))
                let forged =
                    #"{"protected":"\#(envelope.protected)","payload":"\#(payload)","signature":"\#(envelope.signature)"}"#
                try await harness.publishEnvelope(Data(forged.utf8), from: "agent-001")
                return nil
            },
            Case(
                name: "alg none", agent: "agent-001", reason: "unsupported_alg",
                validationType: .signatureVerification
            ) { harness in
                let header = #"{"alg":"none","kid":"\#(agent001.publicKeyHash.hex)","typ":"edgeproof+jws"}"#
                let claims = try JSONEncoder().encode(claims(agent: "agent-001", signer: agent001))
                let envelope =
                    #"{"protected":"\#(Base64URL.encode(Data(header.utf8)))","payload":"\#(Base64URL.encode(claims))","signature":""}"#
                try await harness.publishEnvelope(Data(envelope.utf8), from: "agent-001")
                return nil
            },
            Case(
                name: "Berlin against US-only places", agent: "agent-001", reason: "location_not_allowed",
                validationType: .geolocationPolicy
            ) { harness in
                let envelope = try await sign(
                    claims(agent: "agent-001", signer: agent001, region: Places.berlin), by: agent001)
                try await harness.publishEnvelope(
                    envelope.serialized(), from: "agent-001", properties: agentProperties(envelope))
                return nil
            },
            Case(
                name: "old timestamp", agent: "agent-001", reason: "timestamp_skew",
                validationType: .timestampProximity
            ) { harness in
                let envelope = try await sign(
                    claims(agent: "agent-001", signer: agent001, at: Date().addingTimeInterval(-3600)), by: agent001)
                try await harness.publishEnvelope(envelope.serialized(), from: "agent-001")
                return nil
            },
            Case(
                name: "Workload-Geo-ID contradicting the claims", agent: "agent-001", reason: "header_mismatch",
                validationType: .signatureVerification
            ) { harness in
                let envelope = try await sign(claims(agent: "agent-001", signer: agent001), by: agent001)
                var geo = WorkloadGeoID(claims: envelope.claims)
                geo.clientWorkloadLocation = Places.berlin
                try await harness.publishEnvelope(
                    envelope.serialized(), from: "agent-001",
                    properties: [MQTTUserProperty(EnvelopeProperty.workloadGeoID, geo.headerValue)])
                return nil
            },
            Case(
                name: "agent-001's envelope on agent-002's topic", agent: "agent-002", reason: "topic_mismatch",
                validationType: .requestValidation
            ) { harness in
                let envelope = try await sign(claims(agent: "agent-001", signer: agent001), by: agent001)
                try await harness.publishEnvelope(envelope.serialized(), from: "agent-002")
                return nil
            },
            Case(
                name: "malformed JSON", agent: "agent-001", reason: "malformed_envelope",
                validationType: .requestValidation
            ) { harness in
                try await harness.publishEnvelope(Data(#"{"protected": "eyJ"#.utf8), from: "agent-001")
                return nil
            },
        ]

        do {
            var seen: [String: Int] = [:]
            for (index, testCase) in cases.enumerated() {
                let correlation = try await testCase.send(harness)
                seen[testCase.agent, default: 0] += 1
                let (rejection, message) = try await harness.rejection(
                    number: seen[testCase.agent, default: 0], for: testCase.agent)
                #expect(rejection.rejectedBy == .gateway, "\(testCase.name)")
                #expect(rejection.validationType == testCase.validationType, "\(testCase.name)")
                #expect(rejection.reasonCode == testCase.reason, "\(testCase.name): \(rejection.error)")
                #expect(Timestamp.date(from: rejection.timestamp) != nil, "\(testCase.name)")
                #expect(message.properties.correlationData == correlation, "\(testCase.name)")
                let events = try await harness.waitForEvents("rejection", count: index + 1)
                #expect(events.last?.rejection == rejection, "\(testCase.name)")
                #expect(events.last?.agentName == testCase.agent, "\(testCase.name)")
            }
            #expect(harness.verified.isEmpty)

            // A valid envelope after all that is the only thing that reaches the collector.
            let valid = try await sign(claims(agent: "agent-001", signer: agent001), by: agent001)
            try await harness.publishEnvelope(valid.serialized(), from: "agent-001", properties: agentProperties(valid))
            try await harness.collectorInbox.wait { _ in !harness.verified.isEmpty }
            try await Task.sleep(for: .milliseconds(200))
            #expect(harness.verified.map(\.payload) == [valid.serialized()])

            let counters = harness.gateway.counters
            #expect(counters["rejected"] == cases.count)
            #expect(counters["rejected.agent_not_found"] == 2)
            #expect(counters["rejected.bad_signature"] == 1)
            #expect(counters["forwarded"] == 1)
        } catch {
            await harness.stop()
            throw error
        }

        // Stopping publishes the retained offline status with the counters.
        await harness.stopGateway()
        let statusTopic = harness.topics.status(component: "gateway", id: "gateway")
        let messages = try await harness.collectorInbox.wait { messages in
            messages.contains { $0.topic == statusTopic && harness.status(of: $0)?.state == .offline }
        }
        let offline = messages.filter { $0.topic == statusTopic }.compactMap { harness.status(of: $0) }.last
        #expect(offline?.state == .offline)
        #expect(offline?.counters?["rejected"] == cases.count)
        #expect(offline?.counters?["rejected.location_not_allowed"] == 1)
        await harness.stop()
    }
}
