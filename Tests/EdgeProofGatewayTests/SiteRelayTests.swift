import EdgeProofCore
@testable import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

/// The site bridge's routing without brokers: what goes up, what comes down, and what crosses verbatim.
@Suite("Site relay (in memory)")
struct SiteRelayTests {
    static let quiet: Logger = {
        var logger = Logger(label: "edgeproof.test.site-relay")
        logger.logLevel = ProcessInfo.processInfo.environment["EDGEPROOF_TEST_LOG"] == nil ? .critical : .trace
        return logger
    }()
    let site = TopicTree(prefix: "site/v1")
    let central = TopicTree(prefix: "edgeproof/v1")

    func configuration(_ directory: TemporaryDirectory) -> GatewayConfiguration {
        GatewayConfiguration(
            id: "bridge-site",
            broker: BrokerSettings(caFile: "ca.crt", certificateFile: "b.crt", keyFile: "b.key", topicPrefix: "site/v1"),
            upstream: BrokerSettings(
                port: 9999, caFile: "central-ca.crt", certificateFile: "b.crt", keyFile: "b.key"),
            relay: RelaySettings(directory: directory.path, releasePerSecond: 0),
            statusInterval: .seconds(60))
    }

    /// The expiry a relayed message may carry: its own, less whole seconds up to those that passed since `sent`.
    private static func countedDown(from expiry: UInt32, since sent: ContinuousClock.Instant) -> ClosedRange<UInt32> {
        let passed = UInt32(min((ContinuousClock.now - sent).components.seconds + 1, Int64(expiry)))
        return (expiry - passed)...expiry
    }

    @Test func nonceRequestsGoUpWithTheirPropertiesAndAnswersComeDownToTheAgentsOwnTopic() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay-gateway")
        defer { directory.remove() }
        let (siteLink, upstreamLink) = (InMemoryTransport(), InMemoryTransport())
        let gateway = try Gateway(
            configuration: configuration(directory), transport: siteLink, upstream: upstreamLink,
            logger: Self.quiet)
        // Generous waits: at the start of the whole suite the cooperative pool is crowded for a minute or
        // more, and the gateway's task may start late; the waits end as soon as the message moved.
        let running = Task { try await gateway.run() }
        defer { running.cancel() }  // on a failed expectation; the end of the test also waits for it

        let correlation = Data([1, 2, 3, 4])
        // The relay counts down a message's expiry by the time it held the message: at most the time that passed here.
        var sent = ContinuousClock.now
        siteLink.deliver(
            MQTTMessage(
                topic: site.agentNonceRequest("agent-001"), payload: Data("{}".utf8),
                properties: MQTTProperties(
                    userProperties: [MQTTUserProperty("Workload-Geo-ID", "x"), MQTTUserProperty("Workload-Geo-ID", "y")],
                    responseTopic: site.agentNonceResponse("agent-001"), correlationData: correlation,
                    messageExpiryInterval: 30)))
        #expect(try await Poll.until(timeout: .seconds(300)) {
            !upstreamLink.published(on: central.verifiedNonceRequest("agent-001")).isEmpty
        }, "the request went upstream")
        let up = try #require(upstreamLink.published(on: central.verifiedNonceRequest("agent-001")).first)
        #expect(up.properties.correlationData == correlation)
        #expect(up.properties.responseTopic == central.agentNonceResponse("agent-001"))
        #expect(up.properties.userProperties.map(\.value) == ["x", "y"])  // passthrough: verbatim, in order
        #expect(Self.countedDown(from: 30, since: sent).contains(up.properties.messageExpiryInterval ?? 0))
        // Subscribed upstream to the agent's answers before anything of it went up.
        #expect(Set(upstreamLink.subscriptions).isSuperset(of: [
            central.agentNonceResponse("agent-001"), central.agentReceipts("agent-001"),
            central.agentRejections("agent-001"),
        ]))

        sent = ContinuousClock.now
        upstreamLink.deliver(
            MQTTMessage(
                topic: central.agentNonceResponse("agent-001"), payload: Data(#"{"nonce":"n"}"#.utf8),
                properties: MQTTProperties(correlationData: correlation, messageExpiryInterval: 300)))
        // An answer for an agent of another site is not this site's business.
        upstreamLink.deliver(MQTTMessage(topic: central.agentReceipts("agent-999"), payload: Data("{}".utf8)))
        #expect(try await Poll.until(timeout: .seconds(300)) {
            !siteLink.published(on: site.agentNonceResponse("agent-001")).isEmpty
        }, "the answer came down to the site")
        let down = try #require(siteLink.published(on: site.agentNonceResponse("agent-001")).first)
        #expect(down.payload == Data(#"{"nonce":"n"}"#.utf8))
        #expect(down.properties.correlationData == correlation)
        #expect(Self.countedDown(from: 300, since: sent).contains(down.properties.messageExpiryInterval ?? 0))
        try await Task.sleep(for: .milliseconds(100))
        #expect(siteLink.published.allSatisfy { !$0.topic.contains("agent-999") })
        #expect(gateway.counters["relay.down.unexpected"] == 1)

        // The agent's retained status (its will too) goes up as it is, retained, for monitoring there.
        siteLink.deliver(MQTTMessage(topic: "site/v1/status/agent/agent-001", payload: Data(#"{"state":"offline"}"#.utf8)))
        #expect(try await Poll.until(timeout: .seconds(300)) {
            upstreamLink.published(on: "edgeproof/v1/status/agent/agent-001").first?.retain == true
        }, "the agent's status went upstream, retained")

        // The agent is remembered for the next start.
        let agents = try JSONDecoder().decode(
            [String].self, from: Data(contentsOf: directory.appending("agents.json")))
        #expect(agents == ["agent-001"])
        running.cancel()
        _ = await running.result
    }

    @Test func theTimeInTheQueueIsTakenOffTheExpiryAndAnExpiredMessageIsNotSent() throws {
        let message = MQTTMessage(
            topic: site.agentNonceRequest("agent-002"), payload: Data(),
            properties: MQTTProperties(correlationData: Data([9]), messageExpiryInterval: 10, contentType: "application/json"))
        let queued = RelayedMessage(message)
        let roundTrip = try JSONDecoder().decode(RelayedMessage.self, from: JSONEncoder().encode(queued))
        #expect(roundTrip == queued)
        #expect(roundTrip.message(after: 3.7)?.properties.messageExpiryInterval == 7)
        #expect(roundTrip.message(after: 3.7)?.properties.contentType == "application/json")
        #expect(roundTrip.message(after: 10) == nil)
        // Without an expiry, a message waits as long as the queue's own limits allow.
        #expect(RelayedMessage(MQTTMessage(topic: "t", payload: Data())).message(after: 86_000) != nil)
    }
}
