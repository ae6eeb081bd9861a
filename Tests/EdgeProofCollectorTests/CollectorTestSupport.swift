import Crypto
import EdgeProofCollector
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Synchronization
import Testing

let prefix = "edgeproof/v1"
let topics = TopicTree(prefix: prefix)
let santaClara = GeographicRegion(region: "US", state: "California", city: "Santa Clara")

/// Tests expect rejections; only errors are worth printing.
let quietLogger: Logger = {
    var logger = Logger(label: "edgeproof.collector.test")
    logger.logLevel = .error
    return logger
}()

extension TestSigner {
    /// A signed envelope from `agent` with `nonce`, located at `region`.
    func envelope(
        agent: String = "agent-001", nonce: String, region: GeographicRegion = santaClara, signedAt: Date = Date()
    ) async throws -> SignedEnvelope {
        let stamp = Timestamp.string(from: signedAt)
        let claims = EnvelopeClaims(
            agentName: agent, publicKeyHash: publicKeyHash, nonce: nonce, timestamp: stamp, geographicRegion: region,
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: agent),
                samples: [MetricSample(timestamp: stamp, metricType: "system", values: ["cpu_percent": 12.5])]))
        return try await SignedEnvelope.sign(claims, with: self)
    }
}

/// A broker with certificates for two collectors, the gateway and three agents; an allowlist with
/// agent-001 (allowed in US/California/Santa Clara) and a shared nonce key file.
final class CollectorWorld: Sendable {
    let broker: MosquittoBroker
    let directory: TemporaryDirectory
    let agentSigner = TestSigner()
    let allowlistURL: URL
    let nonceKeyURL: URL

    init() async throws {
        broker = try await MosquittoBroker.start(
            clients: ["collector-1", "collector-2", "gateway", "agent-001", "agent-002", "agent-003"])
        directory = try TemporaryDirectory(prefix: "edgeproof-collector-test")
        allowlistURL = directory.appending("allowlist.yaml")
        nonceKeyURL = directory.appending("nonce.keys")
        try writeAllowlist()
        try NonceKeyFile.generate(at: nonceKeyURL)
    }

    func close() {
        broker.close()
        directory.remove()
    }

    func writeAllowlist(status: AgentStatus = .active) throws {
        var entry = AllowlistEntry(
            name: "agent-001", key: try agentSigner.publicKey, createdAt: Timestamp.string(from: Date()),
            allowedPlaces: [AllowedPlace(region: "US", state: "California", city: "Santa Clara")])
        entry.status = status
        try AllowlistFile(url: allowlistURL).save(try Allowlist(AllowlistDocument(agents: [entry])))
    }

    var allowlist: Allowlist {
        get throws { try AllowlistFile(url: allowlistURL).load() }
    }

    /// A nonce authority with the collectors' shared key, to forge expired but authentic nonces.
    func nonceAuthority() throws -> NonceAuthority {
        NonceAuthority(keyring: try NonceKeyFile(url: nonceKeyURL).load())
    }

    func configuration(
        id: String = "collector-1", subscription: CollectorConfiguration.NonceSubscription = .shared
    ) -> CollectorConfiguration {
        CollectorConfiguration(
            id: id,
            broker: BrokerSettings(
                host: "127.0.0.1", port: Int(broker.port), caFile: broker.caFile,
                certificateFile: broker.certificate(for: id), keyFile: broker.key(for: id)),
            allowlistFile: allowlistURL.path, nonceKeyFile: nonceKeyURL.path,
            nonceSubscription: subscription,
            records: .init(directory: directory.appending("records-\(id)").path))
    }

    /// A started, connected client with the certificate of `identity`.
    func client(_ identity: String) async throws -> MQTTClient {
        let client = try MQTTClient(configuration: broker.clientConfiguration(identity), logger: quietLogger)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(10))
        return client
    }
}

/// A collector with its client and allowlist watcher running in one ServiceGroup, as the CLI runs it.
struct RunningCollector {
    let collector: Collector
    let services: RunningServices

    /// Starts the collector and waits until its retained status says online (it has subscribed).
    static func start(_ configuration: CollectorConfiguration, statusInbox: Inbox) async throws -> RunningCollector {
        let composed = try Collector.compose(configuration: configuration, logger: quietLogger)
        let services = composed.start(logger: quietLogger)
        let statusTopic = topics.status(component: "collector", id: configuration.id)
        let startedAfter = Date().addingTimeInterval(-1)
        let online = try await statusInbox.first(timeout: .seconds(15)) { message in
            guard message.topic == statusTopic,
                let status = try? JSONDecoder().decode(ComponentStatus.self, from: message.payload),
                status.state == .online, let since = Timestamp.date(from: status.since)
            else { return false }
            return since >= startedAfter
        }
        if online == nil { try? await services.stop() }
        try #require(online != nil, "collector \(configuration.id) did not come online")
        return RunningCollector(collector: composed.component, services: services)
    }

    func stop() async throws {
        try await services.stop()
    }
}

/// The harness of most tests: broker, one collector, the gateway (publishing to verified/) and
/// agents 001 and 002 listening on their own topics.
struct Session {
    let world: CollectorWorld
    let gateway: MQTTClient
    let gatewayInbox: Inbox
    let agent: MQTTClient
    let agentInbox: Inbox
    let stranger: MQTTClient
    let strangerInbox: Inbox

    static func start(_ world: CollectorWorld) async throws -> Session {
        let gateway = try await world.client("gateway")
        let gatewayInbox = Inbox(gateway)
        try await gateway.subscribe("\(prefix)/status/#")
        let agent = try await world.client("agent-001")
        let agentInbox = Inbox(agent)
        let stranger = try await world.client("agent-002")
        let strangerInbox = Inbox(stranger)
        for (client, name) in [(agent, "agent-001"), (stranger, "agent-002")] {
            try await client.subscribe(topics.agentNonceResponse(name))
            try await client.subscribe(topics.agentReceipts(name))
            try await client.subscribe(topics.agentRejections(name))
        }
        return Session(
            world: world, gateway: gateway, gatewayInbox: gatewayInbox, agent: agent, agentInbox: agentInbox,
            stranger: stranger, strangerInbox: strangerInbox)
    }

    func close() async {
        await gateway.shutdown()
        await agent.shutdown()
        await stranger.shutdown()
    }

    /// The gateway forwards a nonce request of `agent`; returns the correlation data used.
    func requestNonce(
        for agent: String = "agent-001", responseTopic: String? = nil, payload: Data = Data("{}".utf8)
    ) async throws -> Data {
        let correlation = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        let properties = MQTTProperties(
            responseTopic: responseTopic ?? topics.agentNonceResponse(agent), correlationData: correlation)
        try await gateway.publish(
            MQTTMessage(topic: topics.verifiedNonceRequest(agent), payload: payload, properties: properties))
        return correlation
    }

    /// Requests a nonce for agent-001 and returns the first answer.
    func nonce() async throws -> NonceResponse {
        let correlation = try await requestNonce()
        let answer = try await agentInbox.first {
            $0.topic == topics.agentNonceResponse("agent-001") && $0.properties.correlationData == correlation
        }
        let message = try #require(answer, "no nonce response")
        return try JSONDecoder().decode(NonceResponse.self, from: message.payload)
    }

    /// The gateway republishes `payload` on `verified/{agent}/metrics`.
    func forward(_ payload: Data, agent: String = "agent-001") async throws {
        try await gateway.publish(MQTTMessage(topic: topics.verifiedMetrics(agent), payload: payload))
    }

    /// The first rejection with `reason` on `agent`'s rejections topic.
    func rejection(for agent: String = "agent-001", reason: String, timeout: Duration = .seconds(10)) async throws
        -> (rejection: Rejection, message: MQTTMessage)?
    {
        let inbox = agent == "agent-001" ? agentInbox : strangerInbox
        let topic = topics.agentRejections(agent)
        let message = try await inbox.first(timeout: timeout) {
            $0.topic == topic && (try? JSONDecoder().decode(Rejection.self, from: $0.payload))?.reasonCode == reason
        }
        guard let message else { return nil }
        return (try JSONDecoder().decode(Rejection.self, from: message.payload), message)
    }

    /// Receipts agent-001 received for `nonce`.
    func receipts(for nonce: String, count: Int = 1, timeout: Duration = .seconds(10)) async throws -> [Receipt] {
        try await agentInbox.all(count, timeout: timeout) { $0.topic == topics.agentReceipts("agent-001") }
            .compactMap { try? JSONDecoder().decode(Receipt.self, from: $0.payload) }
            .filter { $0.nonce == nonce }
    }
}

/// Every line of every records file in `directory` (closed and open), parsed.
func storedRecords(in directory: String) throws -> [StoredRecord] {
    try jsonLines(in: directory, prefix: "records").map { try JSONDecoder().decode(StoredRecord.self, from: $0) }
}

func jsonLines(in directory: String, prefix: String) throws -> [Data] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return try names.filter { $0.hasPrefix(prefix + "-") }.sorted().flatMap { name in
        let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
        return data.split(separator: UInt8(ascii: "\n")).map { Data($0) }
    }
}
