import Crypto
import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Synchronization
import Testing

enum Places {
    static let santaClara = GeographicRegion(region: "US", state: "California", city: "Santa Clara")
    static let berlin = GeographicRegion(region: "EU", state: "Germany", city: "Berlin")
    static let usOnly = [AllowedPlace(region: "US", state: "California", city: "Santa Clara")]
}

/// A collector-issued-looking nonce (67 base64url characters); the gateway never checks nonces.
let sampleNonce = String(repeating: "n", count: 67)

func claims(
    agent: String, signer: TestSigner, region: GeographicRegion = Places.santaClara, at date: Date = Date()
) -> EnvelopeClaims {
    let stamp = Timestamp.string(from: date)
    return EnvelopeClaims(
        agentName: agent, publicKeyHash: signer.publicKeyHash, nonce: sampleNonce, timestamp: stamp,
        geographicRegion: region,
        geolocation: Geolocation(
            latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise"),
        metrics: MetricsBatch(
            service: ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: agent),
            samples: [MetricSample(timestamp: stamp, metricType: "system", values: ["cpu_percent": 12.5])]))
}

func sign(_ claims: EnvelopeClaims, by signer: TestSigner) async throws -> SignedEnvelope {
    try await SignedEnvelope.sign(claims, with: signer)
}

/// The user properties an agent attaches: copies of the signed content.
func agentProperties(_ envelope: SignedEnvelope) -> [MQTTUserProperty] {
    [
        MQTTUserProperty(EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: envelope.claims).headerValue),
        MQTTUserProperty(
            EnvelopeProperty.signatureInput,
            SignatureInput(envelope: envelope, nonceExpiresAt: Date().addingTimeInterval(300)).headerValue),
    ]
}

/// Tests provoke reload failures and refused connections on purpose; only crashes are worth printing.
let quietLogger: Logger = {
    var logger = Logger(label: "edgeproof.gateway.test")
    logger.logLevel = .critical
    return logger
}()

/// A real mosquitto, a running gateway, a collector (collector-1) that reads verified traffic,
/// gateway events and status, and agents agent-001 and agent-002 that read their rejections.
final class GatewayHarness: Sendable {
    let broker: MosquittoBroker
    let gateway: Gateway
    /// The gateway's client, the gateway and its allowlist watcher in one group, as the CLI runs them.
    let services: RunningServices
    let collector: MQTTClient
    let collectorInbox: Inbox
    let agents: [String: (client: MQTTClient, inbox: Inbox)]
    let allowlistFile: AllowlistFile
    let topics = TopicTree()

    static let agentNames = ["agent-001", "agent-002"]

    private init(
        broker: MosquittoBroker, gateway: Gateway, services: RunningServices, collector: MQTTClient,
        collectorInbox: Inbox, agents: [String: (client: MQTTClient, inbox: Inbox)], allowlistFile: AllowlistFile
    ) {
        self.broker = broker
        self.gateway = gateway
        self.services = services
        self.collector = collector
        self.collectorInbox = collectorInbox
        self.agents = agents
        self.allowlistFile = allowlistFile
    }

    /// Starts everything and returns once the gateway reported online (its subscriptions are in
    /// place by then).
    static func start(mode: GatewayMode, allowlist: Allowlist?) async throws -> GatewayHarness {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"] + agentNames)
        do {
            let allowlistFile = AllowlistFile(url: broker.directory.appending("allowlist.json"))
            if let allowlist { try allowlistFile.save(allowlist) }
            let settings = BrokerSettings(
                host: "127.0.0.1", port: Int(broker.port), caFile: broker.caFile,
                certificateFile: broker.certificate(for: "gateway"), keyFile: broker.key(for: "gateway"))
            let configuration = GatewayConfiguration(
                id: "gateway", broker: settings, mode: mode,
                allowlistFile: allowlist == nil ? nil : allowlistFile.url.path,
                allowlistPollInterval: .milliseconds(50))
            let gateway = try Gateway.compose(configuration: configuration, logger: quietLogger)

            let topics = TopicTree()
            let collector = try await connect(broker, "collector-1")
            let collectorInbox = Inbox(collector)
            try await collector.subscribe("\(topics.prefix)/verified/#")
            try await collector.subscribe("\(topics.prefix)/events/gateway/#")
            try await collector.subscribe("\(topics.prefix)/status/gateway/#")

            var agents: [String: (client: MQTTClient, inbox: Inbox)] = [:]
            for name in agentNames {
                let client = try await connect(broker, name)
                let inbox = Inbox(client)
                try await client.subscribe(topics.agentRejections(name))
                agents[name] = (client, inbox)
            }

            let harness = GatewayHarness(
                broker: broker, gateway: gateway.component, services: gateway.start(logger: quietLogger),
                collector: collector,
                collectorInbox: collectorInbox, agents: agents, allowlistFile: allowlistFile)
            let statusTopic = topics.status(component: "gateway", id: "gateway")
            let online = try await collectorInbox.wait { messages in
                messages.contains { $0.topic == statusTopic && harness.status(of: $0)?.state == .online }
            }
            guard online.contains(where: { $0.topic == statusTopic }) else {
                await harness.stop()
                throw TestFixtureError("the gateway did not report online\n\(broker.diagnostics())")
            }
            return harness
        } catch {
            broker.close()
            throw error
        }
    }

    private static func connect(_ broker: MosquittoBroker, _ identity: String) async throws -> MQTTClient {
        let client = try MQTTClient(configuration: broker.clientConfiguration(identity), logger: quietLogger)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(10))
        return client
    }

    /// Stops the gateway gracefully (as SIGTERM does): it publishes its offline status before its client
    /// disconnects.
    func stopGateway() async {
        try? await services.stop()
    }

    /// Stops the gateway, the clients and the broker.
    func stop() async {
        await stopGateway()
        await collector.shutdown()
        for (_, agent) in agents { await agent.client.shutdown() }
        broker.close()
    }

    func agent(_ name: String) throws -> MQTTClient {
        guard let agent = agents[name] else { throw TestFixtureError("no agent \(name) in the harness") }
        return agent.client
    }

    func inbox(_ name: String) throws -> Inbox {
        guard let agent = agents[name] else { throw TestFixtureError("no agent \(name) in the harness") }
        return agent.inbox
    }

    // MARK: Publishing as an agent

    func publishEnvelope(_ payload: Data, from agent: String, properties: [MQTTUserProperty] = []) async throws {
        try await self.agent(agent).publish(
            MQTTMessage(
                topic: topics.agentMetrics(agent), payload: payload,
                properties: MQTTProperties(userProperties: properties)))
    }

    /// Publishes a nonce request as an agent does and returns its correlation data.
    @discardableResult
    func publishNonceRequest(from agent: String, properties: [MQTTUserProperty] = []) async throws -> Data {
        let correlation = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        try await self.agent(agent).publish(
            MQTTMessage(
                topic: topics.agentNonceRequest(agent), payload: Data("{}".utf8),
                properties: MQTTProperties(
                    userProperties: properties, responseTopic: topics.agentNonceResponse(agent),
                    correlationData: correlation)))
        return correlation
    }

    // MARK: Reading what arrived

    var verified: [MQTTMessage] {
        collectorInbox.messages.filter { $0.topic.hasPrefix("\(topics.prefix)/verified/") }
    }

    var events: [TrustEvent] {
        collectorInbox.messages(on: topics.events(component: "gateway", id: "gateway")).compactMap {
            try? JSONDecoder().decode(TrustEvent.self, from: $0.payload)
        }
    }

    func status(of message: MQTTMessage) -> ComponentStatus? {
        try? JSONDecoder().decode(ComponentStatus.self, from: message.payload)
    }

    /// Waits for the `count`-th message to arrive on the agent's rejections topic and decodes it.
    func rejection(number count: Int, for agent: String) async throws -> (Rejection, MQTTMessage) {
        let messages = try await inbox(agent).wait { $0.count >= count }
        let message = try #require(messages.count >= count ? messages[count - 1] : nil, "no rejection for \(agent)")
        #expect(message.topic == topics.agentRejections(agent))
        return (try JSONDecoder().decode(Rejection.self, from: message.payload), message)
    }

    /// Waits until `count` events of `kind` arrived.
    @discardableResult
    func waitForEvents(_ kind: String, count: Int) async throws -> [TrustEvent] {
        try await collectorInbox.wait { _ in self.events.filter { $0.kind == kind }.count >= count }
        return events.filter { $0.kind == kind }
    }
}
