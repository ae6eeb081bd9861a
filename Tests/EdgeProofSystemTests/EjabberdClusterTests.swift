import EdgeProofAgent
import EdgeProofCollector
import EdgeProofCore
import EdgeProofDemo
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// Issue 16, item 3: EdgeProof on a real clustered MQTT engine, unchanged. A 2-node ejabberd cluster on
/// 127.0.0.1; agents on node 1 (with node 2 as their second address), the gateway and the collector on node 2.
/// CI installs ejabberd (`scripts/install-deps.sh --with-ejabberd`); elsewhere the suite says why it skips.
@Suite(
    "A clustered engine: ejabberd", .serialized, .timeLimit(.minutes(6)),
    .enabled(if: EjabberdCluster.isInstalled, "ejabberd is not installed: scripts/install-deps.sh --with-ejabberd"))
struct EjabberdClusterTests {
    static let agents = ["agent-001", "agent-002", "agent-003"]
    static let batchesPerAgent = 40

    @Test("edgeproof demo --cluster ejabberd: every scenario ends as on mosquitto, and node 1 killed mid-run loses and duplicates nothing")
    func demoRunsOnTheCluster() async throws {
        let work = try TemporaryDirectory(prefix: "edgeproof-demo-cluster-test")
        defer { work.remove() }
        let report = try await DemoTurns.shared.run {
            try await DemoRunner(workdir: work.url, engine: .ejabberd) { _ in }.run()
        }
        for outcome in report.outcomes {
            #expect(outcome.passed, "\(outcome.scenario.name)/\(outcome.mode): \(outcome.observed)")
        }
        let scenarios = DemoScenario.all + DemoScenario.gnss + DemoScenario.attacks + DemoScenario.faults
        #expect(report.outcomes.filter { DemoRunner.modes.contains($0.mode) }.count == scenarios.count * DemoRunner.modes.count)
        #expect(report.outcomes.filter { $0.mode == "site" }.isEmpty, "the site phase bridges two mosquittos")
        let nodeLoss = try #require(report.outcomes.first { $0.mode == "cluster" })
        #expect(nodeLoss.observed.contains("\(DemoRunner.nodeLossBatches)/\(DemoRunner.nodeLossBatches) stored"))
        #expect(nodeLoss.observed.contains(" 0 twice"))
        #expect(report.passed, "a stored record does not verify")
    }

    @Test("broker/acl's rules hold on ejabberd: an agent cannot publish as another agent nor as a gateway, nor read the collectors' stream")
    func accessRulesMatchMosquittos() async throws {
        let cluster = try await EjabberdCluster.start(nodes: 1, clients: ["agent-001", "gateway", "collector-1"])
        defer { cluster.close() }
        let node = cluster.nodes[0]
        var logger = Logger(label: "edgeproof.test.ejabberd")
        logger.logLevel = ProcessInfo.processInfo.environment["EDGEPROOF_TEST_LOG"] == nil ? .critical : .info
        let topics = TopicTree()
        let agent = try MQTTClient(
            configuration: BrokerSettings(
                port: Int(node.mqttPort), caFile: cluster.caFile, certificateFile: cluster.certificate(for: "agent-001"),
                keyFile: cluster.key(for: "agent-001")
            ).clientConfiguration(clientID: "agent-001"),
            logger: logger)
        agent.start()
        try await agent.waitUntilConnected(timeout: .seconds(15))
        // Its own topic: accepted (no subscriber yet: 0x10, which is no refusal). Every answer is waited for
        // 20 s at most: a refusal that never comes fails the test (a TimeoutError is no MQTTError), not CI.
        try await withTimeout(.seconds(20), "publish to its own topic") {
            try await agent.publish(MQTTMessage(topic: topics.agentMetrics("agent-001"), payload: Data("{}".utf8), qos: .atLeastOnce))
        }
        for topic in [topics.agentMetrics("agent-002"), topics.verifiedMetrics("agent-001")] {
            await #expect(throws: MQTTError.self, "publishing to \(topic) was not refused") {
                try await withTimeout(.seconds(20), "publish to \(topic)") {
                    try await agent.publish(MQTTMessage(topic: topic, payload: Data("{}".utf8), qos: .atLeastOnce))
                }
            }
            try await agent.waitUntilConnected(timeout: .seconds(15))
        }
        await #expect(throws: MQTTError.self, "subscribing to verified/# was not refused") {
            try await withTimeout(.seconds(20), "subscribe to verified/#") {
                try await agent.subscribe(topics.prefix + "/verified/#")
            }
        }
        await agent.shutdown()

        // A certificate whose CN is not the user name it claims is refused at CONNECT.
        var impostor = BrokerSettings(
            port: Int(node.mqttPort), caFile: cluster.caFile, certificateFile: cluster.certificate(for: "agent-001"),
            keyFile: cluster.key(for: "agent-001")
        ).clientConfiguration(clientID: "gateway")
        impostor.reconnectDelay = 0.2...0.5
        let client = try MQTTClient(configuration: impostor, logger: logger)
        client.start()
        await #expect(throws: (any Error).self, "agent-001's certificate connected as gateway") {
            try await client.waitUntilConnected(timeout: .seconds(3))
        }
        await client.shutdown()
    }

    @Test("agents on node 1, gateway and collector on node 2; node 1 killed mid-run: the agents fail over to node 2, nothing accepted is lost, nothing is stored twice")
    func nodeLossLosesNothing() async throws {
        let work = try TemporaryDirectory(prefix: "edgeproof-ejabberd-test")
        defer { work.remove() }
        var logger = Logger(label: "edgeproof.test.ejabberd")
        logger.logLevel = ProcessInfo.processInfo.environment["EDGEPROOF_TEST_LOG"] == nil ? .critical : .info
        let cluster = try await EjabberdCluster.start(
            nodes: 2, clients: ["gateway", "collector-1"] + Self.agents,
            directory: TemporaryDirectory(at: work.appending("cluster")))
        defer { cluster.close() }
        let (node1, node2) = (cluster.nodes[0], cluster.nodes[1])

        var allowlist = Allowlist()
        var signers: [String: TestSigner] = [:]
        for (index, agent) in Self.agents.enumerated() {
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
        try Data(
            """
            id: collector-1
            \(cluster.configurationSection(for: "collector-1", nodes: [node2]))
            allowlist_file: \(allowlistPath)
            nonce_key_file: \(work.appending("nonce.keys").path)
            nonce_subscription: shared
            records:
              directory: \(work.appending("records").path)
            """.utf8
        ).write(to: work.appending("collector.yaml"))
        try Data(
            """
            id: gateway
            mode: enforce
            \(cluster.configurationSection(for: "gateway", nodes: [node2]))
            allowlist_file: \(allowlistPath)
            """.utf8
        ).write(to: work.appending("gateway.yaml"))
        let collector = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: work.appending("collector.yaml").path, environment: [:]),
            logger: logger)
        var services = collector.services
        services += try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: work.appending("gateway.yaml").path, environment: [:]),
            logger: logger
        ).services

        var expected: [String] = []
        var agents: [Agent] = []
        for agent in Self.agents {
            let spool = work.appending("spool-\(agent)")
            try Data(
                """
                name: \(agent)
                \(cluster.configurationSection(for: agent, nodes: [node1, node2]))
                location: US/California/Santa Clara
                sample_interval_s: 3600
                spool:
                  directory: \(spool.path)
                nonce_timeout_s: 5
                receipt_timeout_s: 5
                """.utf8
            ).write(to: work.appending("\(agent).yaml"))
            let configuration = try AgentConfiguration.load(file: work.appending("\(agent).yaml").path, environment: [:])
            let markers = (0..<Self.batchesPerAgent).map { "\(agent)/\($0)" }
            expected += markers
            try await MarkedBatches.enqueue(
                markers, into: try EnvelopeSpool(directory: spool), location: configuration.location,
                service: ServiceInfo(name: "cluster", version: "1", instanceID: agent))
            agents.append(try Agent(configuration: configuration, signer: try #require(signers[agent]), logger: logger))
        }
        let total = Self.agents.count * Self.batchesPerAgent
        func spooled() async -> Int {
            var left = 0
            for agent in agents { left += await agent.spooledCount() }
            return left
        }
        // The gateway and the collector first, so that nothing the agents send meets an empty node.
        let running = RunningServices(services, logger: logger)
        try await Task.sleep(for: .seconds(2))
        let agentServices = RunningServices(try agents.flatMap { try $0.composed().services }, logger: logger)

        // Mid-run: some batches receipted, most still to go.
        let started = try await Poll.until(timeout: .seconds(60), every: .milliseconds(20)) { await spooled() <= total - 10 }
        #expect(started, "no batch was receipted through the cluster within 60 s\n\(cluster.diagnostics())")
        cluster.kill(node1)
        let leftAtKill = await spooled()
        #expect(leftAtKill > 0, "every batch was receipted before node 1 was killed: the failover was not exercised")

        let drained = try await Poll.until(timeout: .seconds(180), every: .milliseconds(100)) { await spooled() == 0 }
        let left = await spooled()
        #expect(drained, "\(left) batches still in the agents' spools after node 1 died\n\(cluster.diagnostics())")
        try await agentServices.stop()
        try await running.stop()

        let counts = try MarkedBatches.counts(inRecordsDirectory: work.appending("records"))
        let stored = try PartitionedBrokersTests.records(in: work.appending("records"))
        #expect(expected.filter { counts[$0] == nil }.isEmpty, "lost: \(expected.filter { counts[$0] == nil })")
        #expect(counts.values.allSatisfy { $0 == 1 }, "stored twice: \(counts.filter { $0.value > 1 })")
        #expect(Set(stored.map(\.nonce)).count == stored.count)
        #expect(cluster.pid(of: node2) != nil, "node 2 died too")
    }
}

/// The translation of broker/acl into ejabberd's access rules (runs without ejabberd).
@Suite("ejabberd configuration from broker/acl")
struct EjabberdConfigurationTests {
    @Test("every grant of broker/acl becomes an ejabberd filter rule for the same roles; agents' patterns bind %u")
    func translatesTheBrokerACL() throws {
        let yaml = try EjabberdConfiguration.fromPackage().render(
            mqttPort: 18883, certificateFiles: ["/x/server.pem"], caFile: "/x/ca.crt")
        let expected = [
            "\"edgeproof/v1/agents/%u/metrics\": ep_agent",
            "\"edgeproof/v1/agents/%u/nonce/request\": ep_agent",
            "\"edgeproof/v1/verified/#\": ep_bridge_gateway",
            "\"edgeproof/v1/agents/+/nonce/response\": ep_collector",
            "\"edgeproof/v1/events/gateway/%u\": ep_bridge",
            "\"edgeproof/v1/status/#\": ep_bridge_collector_gateway_monitor",
            "tls_verify: true",
            "port: 18883",
        ]
        for line in expected { #expect(yaml.contains(line), "missing: \(line)\n\(yaml)") }
        #expect(!yaml.contains("$CONTROL"), "mosquitto's control topic leaked into ejabberd's rules")
        // An agent is whoever has no role: its rule denies the role ACL first.
        #expect(yaml.contains("  ep_agent:\n    - deny: roles\n    - allow: all\n"))
        #expect(throws: (any Error).self) { try EjabberdConfiguration(acl: "topic read x/#\n") }
        #expect(throws: (any Error).self) { try EjabberdConfiguration(acl: "#@role gateway\ntopic sometimes x\n#@end\n") }
    }
}
