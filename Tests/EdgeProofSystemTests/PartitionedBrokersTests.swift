import EdgeProofAgent
import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// Issue 16, item 2: partitioned brokers. Two mosquittos (each with its own CA), agents pinned to one each,
/// a gateway per broker, and one collector with `brokers:` listing both.
@Suite("Partitioned brokers: one collector stores from two", .serialized, .timeLimit(.minutes(5)))
struct PartitionedBrokersTests {
    static let placement = ["agent-001": "a", "agent-002": "b"]

    @Test("agents on two brokers, a gateway on each, one collector on both: every batch stored once, every receipt back the way it came, a replay through the other broker refused")
    func oneCollectorServesTwoBrokers() async throws {
        let work = try TemporaryDirectory(prefix: "edgeproof-partitions")
        defer { work.remove() }
        var logger = Logger(label: "edgeproof.test.partitions")
        logger.logLevel = ProcessInfo.processInfo.environment["EDGEPROOF_TEST_LOG"] == nil ? .critical : .info
        var brokers: [String: MosquittoBroker] = [:]
        for name in ["a", "b"] {
            let agents = Self.placement.filter { $0.value == name }.map(\.key)
            brokers[name] = try await MosquittoBroker.start(
                clients: ["gateway", "gateway-replay", "collector-1", "monitor"] + agents,
                directory: TemporaryDirectory(at: work.appending("broker-\(name)")))
        }
        defer { brokers.values.forEach { $0.close() } }
        let (a, b) = (try #require(brokers["a"]), try #require(brokers["b"]))

        var allowlist = Allowlist()
        var signers: [String: TestSigner] = [:]
        for (index, agent) in Self.placement.keys.sorted().enumerated() {
            let signer = try TestSigner.make(.es256, index: index)
            signers[agent] = signer
            try allowlist.add(
                AllowlistEntry(
                    name: agent, key: try signer.publicKey, createdAt: Timestamp.string(from: Date()),
                    allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        }
        let allowlistPath = work.appending("allowlist.yaml").path
        try AllowlistFile(path: allowlistPath).save(allowlist)
        try NonceKeyFile.generate(at: work.appending("nonce.keys"))
        func entry(_ broker: MosquittoBroker) -> String {
            "{host: 127.0.0.1, port: \(broker.port), ca_file: \(broker.caFile), cert_file: \(broker.certificate(for: "collector-1")), key_file: \(broker.key(for: "collector-1"))}"
        }
        try Data(
            """
            id: collector-1
            brokers:
              - \(entry(a))
              - \(entry(b))
            allowlist_file: \(allowlistPath)
            nonce_key_file: \(work.appending("nonce.keys").path)
            records:
              directory: \(work.appending("records").path)
            """.utf8
        ).write(to: work.appending("collector.yaml"))
        let collector = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: work.appending("collector.yaml").path, environment: [:]),
            logger: logger)
        var services = collector.services
        for (name, broker) in [("a", a), ("b", b)] {
            try Data(
                """
                id: gateway
                mode: enforce
                \(broker.configurationSection(for: "gateway"))
                allowlist_file: \(allowlistPath)
                """.utf8
            ).write(to: work.appending("gateway-\(name).yaml"))
            services += try Gateway.compose(
                configuration: try GatewayConfiguration.load(file: work.appending("gateway-\(name).yaml").path, environment: [:]),
                logger: logger
            ).services
        }

        // Each agent's spool holds 15 batches with markers before it starts.
        var expected: [String] = []
        var agents: [Agent] = []
        for (agent, home) in Self.placement.sorted(by: { $0.key < $1.key }) {
            let broker = try #require(brokers[home])
            let spool = work.appending("spool-\(agent)")
            try Data(
                """
                name: \(agent)
                \(broker.configurationSection(for: agent))
                location: US/California/Santa Clara
                sample_interval_s: 3600
                spool:
                  directory: \(spool.path)
                nonce_timeout_s: 5
                receipt_timeout_s: 5
                """.utf8
            ).write(to: work.appending("\(agent).yaml"))
            let configuration = try AgentConfiguration.load(file: work.appending("\(agent).yaml").path, environment: [:])
            let markers = (0..<15).map { "\(agent)/\($0)" }
            expected += markers
            try await MarkedBatches.enqueue(
                markers, into: try EnvelopeSpool(directory: spool), location: configuration.location,
                service: ServiceInfo(name: "partitions", version: "1", instanceID: agent))
            agents.append(try Agent(configuration: configuration, signer: try #require(signers[agent]), logger: logger))
        }
        for agent in agents { services += try agent.composed().services }

        let running = RunningServices(services, logger: logger)
        let drained = try await Poll.until(timeout: .seconds(120), every: .milliseconds(100)) {
            var left = 0
            for agent in agents { left += await agent.spooledCount() }
            return left == 0
        }
        #expect(drained, "receipts missing: batches still in the agents' spools")

        // A replay of agent-001's stored envelope through the other broker's gateway: one replay cache for both.
        let records = try Self.records(in: work.appending("records"))
        let first = try #require(records.first { $0.agentName == "agent-001" })
        let replay = try JSONSerialization.data(
            withJSONObject: ["protected": first.protected, "payload": first.payload, "signature": first.signature])
        let counters = { collector.component.counters }
        let rejectedBefore = counters()["rejected.nonce_replayed"] ?? 0
        // As a gateway of broker b would republish it (an identity of its own, not to take b's gateway's session).
        let publisher = try MQTTClient(
            configuration: MQTTConfiguration(
                port: Int(b.port), clientID: "gateway-replay", caFile: b.caFile,
                certificateFile: b.certificate(for: "gateway-replay"), keyFile: b.key(for: "gateway-replay"),
                cleanStart: true),
            logger: logger)
        publisher.start()
        try await publisher.waitUntilConnected(timeout: .seconds(15))
        try await publisher.publish(
            MQTTMessage(topic: TopicTree().verifiedMetrics("agent-001"), payload: replay, qos: .atLeastOnce))
        let refused = try await Poll.until(timeout: .seconds(30)) {
            (counters()["rejected.nonce_replayed"] ?? 0) > rejectedBefore
        }
        #expect(refused, "the replay through broker b was not refused: \(counters())")
        await publisher.shutdown()

        try await running.stop()
        let stored = try Self.records(in: work.appending("records"))
        let counts = try MarkedBatches.counts(inRecordsDirectory: work.appending("records"))
        #expect(expected.filter { counts[$0] == nil }.isEmpty, "lost: \(expected.filter { counts[$0] == nil })")
        #expect(counts.values.allSatisfy { $0 == 1 }, "stored twice: \(counts.filter { $0.value > 1 })")
        #expect(Set(stored.map(\.nonce)).count == stored.count)
    }

    static func records(in directory: URL) throws -> [StoredRecord] {
        try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("records-") }
            .flatMap { try Data(contentsOf: $0).split(separator: UInt8(ascii: "\n")) }
            .map { try JSONDecoder().decode(StoredRecord.self, from: Data($0)) }
    }
}
