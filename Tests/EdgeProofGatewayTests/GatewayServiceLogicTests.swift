import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

@testable import EdgeProofGateway

/// The gateway service over an in-memory transport: what it publishes where, and what it counts, for
/// what arrives — no broker. The integration suites check the same against mosquitto.
@Suite("Gateway service logic (in-memory transport)")
struct GatewayServiceLogicTests {
    static let topics = TopicTree(prefix: "edgeproof/v1")
    /// How long a wait may take: generous, because in a full run the integration suites starting their
    /// brokers block the few threads of the shared pool for a minute or more (a wait ends as soon as its
    /// condition holds).
    static let patience: Duration = .seconds(180)

    /// Runs a gateway on `transport` until `body` returns, then shuts it down gracefully.
    static func withGateway(
        _ configuration: GatewayConfiguration, _ transport: InMemoryTransport, metrics: ServiceMetrics,
        _ body: (Gateway) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let gateway = try Gateway(configuration: configuration, transport: transport, metrics: metrics, logger: logger)
        try await RunningServices.withRunning([gateway], logger: logger) { try await body(gateway) }
    }

    @Test func enforceModeAnswersAnUnknownAgentWithARejectionAndAnEventAndForwardsNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let allowlist = AllowlistFile(url: directory.appending("allowlist.json"))
        try allowlist.save(Allowlist())
        let configuration = GatewayConfiguration(id: "gateway-t", mode: .enforce, allowlistFile: allowlist.url.path)
        let transport = InMemoryTransport()
        let metrics = ServiceMetrics()
        let rejections = Self.topics.agentRejections("agent-404")
        let events = Self.topics.events(component: "gateway", id: "gateway-t")
        try await Self.withGateway(configuration, transport, metrics: metrics) { gateway in
            // A message delivered before the gateway listens is not one it received (as on a broker).
            let listening = try await Poll.until(timeout: Self.patience) { transport.subscriptions.count == 2 }
            #expect(listening)
            transport.deliver(
                MQTTMessage(
                    topic: Self.topics.agentNonceRequest("agent-404"), payload: Data(#"{"agent_name":"agent-404"}"#.utf8),
                    properties: MQTTProperties(
                        responseTopic: "edgeproof/v1/agents/agent-404/nonce/response", correlationData: Data([7]))))
            let eventPublished = try await Poll.until(timeout: Self.patience) {
                !transport.published(on: events).isEmpty
            }
            #expect(eventPublished)

            let answer = try #require(transport.published(on: rejections).first)
            #expect(answer.properties.correlationData == Data([7]))
            let rejection = try JSONDecoder().decode(Rejection.self, from: answer.payload)
            #expect(rejection.reasonCode == "agent_not_found")
            #expect(rejection.rejectedBy == .gateway)
            #expect(transport.published.allSatisfy { !$0.topic.contains("/verified/") })
            #expect(gateway.counters["received"] == 1)
            #expect(gateway.counters["rejected"] == 1)
            #expect(gateway.counters["rejected.agent_not_found"] == 1)
            #expect(gateway.counters["forwarded"] == nil)
        }
        // The last status is the retained offline one, carrying the same counters.
        let status = try #require(transport.published(on: Self.topics.status(component: "gateway", id: "gateway-t")).last)
        #expect(status.retain)
        let final = try JSONDecoder().decode(ComponentStatus.self, from: status.payload)
        #expect(final.state == .offline)
        #expect(final.counters?["rejected.agent_not_found"] == 1)
        #expect(metrics.value(of: "rejected") == 1)
    }

    @Test func passthroughForwardsToTheVerifiedTopicAndCountsIt() async throws {
        let transport = InMemoryTransport()
        let metrics = ServiceMetrics()
        try await Self.withGateway(GatewayConfiguration(id: "gateway-p"), transport, metrics: metrics) { gateway in
            let subscribed = try await Poll.until(timeout: Self.patience) { transport.subscriptions.count == 2 }
            #expect(subscribed)
            transport.deliver(MQTTMessage(topic: Self.topics.agentMetrics("agent-001"), payload: Data("{}".utf8)))
            let verified = Self.topics.verifiedMetrics("agent-001")
            let forwarded = try await Poll.until(timeout: Self.patience) {
                transport.published(on: verified).count == 1
            }
            #expect(forwarded)
            let counted = try await Poll.until(timeout: Self.patience) { gateway.counters["forwarded"] == 1 }
            #expect(counted)
            #expect(transport.published(on: Self.topics.agentRejections("agent-001")).isEmpty)
        }
    }

    @Test func aReloadedAllowlistIsReportedAsOneEventAndCounter() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let allowlist = AllowlistFile(url: directory.appending("allowlist.json"))
        try allowlist.save(Allowlist())
        let configuration = GatewayConfiguration(id: "gateway-r", mode: .enforce, allowlistFile: allowlist.url.path)
        let transport = InMemoryTransport()
        let events = Self.topics.events(component: "gateway", id: "gateway-r")
        try await Self.withGateway(configuration, transport, metrics: ServiceMetrics()) { gateway in
            #expect(await gateway.reloadAllowlist())
            try Data("agents: [ {name: broken".utf8).write(to: allowlist.url)
            #expect(await gateway.reloadAllowlist() == false)
            let bothEventsPublished = try await Poll.until(timeout: Self.patience) {
                transport.published(on: events).count == 2
            }
            #expect(bothEventsPublished)
            let kinds = try transport.published(on: events).map { try JSONDecoder().decode(TrustEvent.self, from: $0.payload).kind }
            #expect(kinds == ["allowlist_reloaded", "allowlist_reload_failed"])
            #expect(gateway.counters["allowlist_reloads"] == 1)
            #expect(gateway.counters["allowlist_reload_failures"] == 1)
        }
    }
}
