import EdgeProofCollector
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("Collector nonce issuance")
struct CollectorNonceTests {
    @Test func issuesNonceToAllowlistedAgentOnItsOwnResponseTopicWithTheCorrelationData() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let collector = try await RunningCollector.start(world.configuration(), statusInbox: session.gatewayInbox)

        // The request names agent-002's response topic: the answer must still go to agent-001's own.
        let correlation = try await session.requestNonce(responseTopic: topics.agentNonceResponse("agent-002"))
        let answer = try await session.agentInbox.first {
            $0.topic == topics.agentNonceResponse("agent-001") && $0.properties.correlationData == correlation
        }
        let message = try #require(answer)
        let response = try JSONDecoder().decode(NonceResponse.self, from: message.payload)
        let expiry = try #require(message.properties.messageExpiryInterval)
        #expect(expiry > 0 && expiry <= 300)
        let expiresAt = try #require(Timestamp.date(from: response.expiresAt))
        #expect(expiresAt.timeIntervalSinceNow > 250)
        // The nonce is bound to agent-001's key.
        _ = try world.nonceAuthority().validate(response.nonce, for: world.agentSigner.publicKeyHash)

        try await Task.sleep(for: .milliseconds(300))
        #expect(!session.strangerInbox.messages.contains { $0.topic == topics.agentNonceResponse("agent-002") })

        try await collector.stop()
        await session.close()
    }

    @Test func answersNonceRequestOfUnknownAgentWithAgentNotFoundAndTheCorrelationData() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let collector = try await RunningCollector.start(world.configuration(), statusInbox: session.gatewayInbox)

        let correlation = try await session.requestNonce(for: "agent-002")
        let found = try await session.rejection(for: "agent-002", reason: "agent_not_found")
        let (rejection, message) = try #require(found)
        #expect(rejection.rejectedBy == .collector)
        #expect(rejection.validationType == .agentVerification)
        #expect(message.properties.correlationData == correlation)
        #expect(!session.strangerInbox.messages.contains { $0.topic == topics.agentNonceResponse("agent-002") })

        try await collector.stop()
        await session.close()
    }

    @Test func refusesOversizedNonceRequestWithPayloadTooLargeAndTheCorrelationData() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let collector = try await RunningCollector.start(world.configuration(), statusInbox: session.gatewayInbox)

        let correlation = try await session.requestNonce(payload: Data(repeating: 0xFF, count: NonceRequest.maximumSize + 1))
        let found = try await session.rejection(for: "agent-001", reason: "payload_too_large")
        let (rejection, message) = try #require(found)
        #expect(rejection.rejectedBy == .collector)
        #expect(rejection.validationType == .requestValidation)
        #expect(message.properties.correlationData == correlation)
        #expect(!session.agentInbox.messages.contains { $0.topic == topics.agentNonceResponse("agent-001") })
        // A request that is not strict JSON is refused, saying why.
        let ambiguous = try await session.requestNonce(payload: Data(#"{"agent_name":"agent-001","agent_name":"x"}"#.utf8))
        let malformed = try #require(try await session.rejection(for: "agent-001", reason: "malformed_envelope"))
        #expect(malformed.0.error.contains(#"duplicate member "agent_name" in nonce request"#))
        #expect(malformed.1.properties.correlationData == ambiguous)
        // A request at the bound is still answered with a nonce.
        let prefix = #"{"agent_name":"agent-001","padding":""#
        let padding = String(repeating: "x", count: NonceRequest.maximumSize - prefix.utf8.count - 2)
        let atBound = Data((prefix + padding + #""}"#).utf8)
        #expect(atBound.count == NonceRequest.maximumSize)
        let small = try await session.requestNonce(payload: atBound)
        let answer = try await session.agentInbox.first {
            $0.topic == topics.agentNonceResponse("agent-001") && $0.properties.correlationData == small
        }
        #expect(answer != nil)

        try await collector.stop()
        await session.close()
    }

    @Test func refusesNoncesToAnAgentRevokedInTheReloadedAllowlist() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let collector = try await RunningCollector.start(world.configuration(), statusInbox: session.gatewayInbox)
        _ = try await session.nonce()

        try world.writeAllowlist(status: .revoked)
        // The collector polls the file every second.
        var found: (rejection: Rejection, message: MQTTMessage)?
        for _ in 0..<10 where found == nil {
            _ = try await session.requestNonce()
            found = try await session.rejection(reason: "agent_revoked", timeout: .milliseconds(700))
        }
        #expect(found?.rejection.validationType == .agentVerification)

        try await collector.stop()
        await session.close()
    }

    @Test func keepsThePreviousAllowlistWhenTheChangedFileIsBroken() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let configuration = world.configuration()
        let collector = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)

        try Data("agents: [ {name: broken".utf8).write(to: world.allowlistURL)
        // Until the collector's poll has seen the broken file (it says so in its events file).
        try await Poll.until {
            let lines = (try? jsonLines(in: configuration.resolvedEventsDirectory, prefix: "events")) ?? []
            return lines.contains {
                (try? JSONDecoder().decode(TrustEvent.self, from: $0))?.kind == "allowlist_reload_failed"
            }
        }
        _ = try await session.nonce()  // agent-001 is still allowlisted

        try await collector.stop()
        let events = try jsonLines(in: configuration.resolvedEventsDirectory, prefix: "events")
            .map { try JSONDecoder().decode(TrustEvent.self, from: $0) }
        #expect(events.contains { $0.kind == "allowlist_reload_failed" })
        await session.close()
    }
}
