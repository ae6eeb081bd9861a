import EdgeProofAgent
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofService
import EdgeProofTPM
import Foundation
import Synchronization

/// A second partition: its own mosquitto (its own CA) with its own gateway, and collector-1 subscribed to both
/// brokers (`brokers:` in `config/collector.yaml`). agent-001, given a certificate on partition b, sends
/// there; then its stored envelope is replayed through the first broker, as a gateway there would republish
/// it, and the one replay cache of collector-1 refuses it.
extension DemoRunner {
    static let partitionClients = ["gateway", "collector-1", "monitor", DemoScenario.partition[0].agent]

    func runPartition(
        paths: DemoPaths, central: MosquittoBroker, partition: MosquittoBroker, signer: TPMSigner?
    ) async throws -> [DemoOutcome] {
        let scenarios = DemoScenario.partition
        let agentName = scenarios[0].agent
        guard let signer else { throw DemoError("no TPM signer for \(agentName)") }
        let configuration = """
            id: gateway
            mode: enforce
            \(partition.configurationSection(for: "gateway"))
            allowlist_file: \(paths.allowlist.path)
            require_trust_level: tpm-ek-cert
            """
        try Data(configuration.utf8).write(to: paths.config("gateway-partition-b.yaml"))
        let (monitor, statuses) = try await partition.statusMonitor(logger: serviceLogger)
        let since = Date()
        let gateway = try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: paths.config("gateway-partition-b.yaml").path, environment: [:]),
            logger: serviceLogger)
        let running = gateway.start(logger: serviceLogger)
        var outcomes: [DemoOutcome] = []
        do {
            try await statuses.waitForOnline("gateway/gateway", after: since)
            say("started partition b: mosquitto (pid \(partition.pid.map(String.init) ?? "?")) on 127.0.0.1:\(partition.port) with its own CA, its gateway (enforce); collector-1 is on both brokers")

            var agentConfiguration = try AgentConfiguration.load(file: paths.config("\(agentName).yaml").path, environment: [:])
            agentConfiguration.broker = BrokerSettings(
                port: Int(partition.port), caFile: partition.caFile, certificateFile: partition.certificate(for: agentName),
                keyFile: partition.key(for: agentName))
            agentConfiguration.spool.directory = paths.spool.appendingPathComponent("partition-b/\(agentName)").path
            let agent = try Agent(configuration: agentConfiguration, signer: signer, logger: serviceLogger)
            let sent = try await agent.runOnce()
            guard case .accepted(let receipt) = sent else {
                outcomes.append(
                    DemoOutcome(
                        scenario: scenarios[0], mode: "partition", expectedRejectedBy: nil, observed: "\(sent)",
                        rejection: nil, passed: false))
                throw DemoError("\(agentName) on partition b: \(sent)")
            }
            outcomes.append(
                DemoOutcome(
                    scenario: scenarios[0], mode: "partition", expectedRejectedBy: nil,
                    observed: "accepted by \(receipt.collector)", rejection: nil, passed: true))
            outcomes.append(try await replay(nonce: receipt.nonce, of: agentName, through: central, paths: paths))
        } catch {
            try? await running.stop()
            await monitor.shutdown()
            throw error
        }
        try await running.stop()
        await monitor.shutdown()
        say("stopped partition b's gateway")
        return outcomes
    }

    /// Publishes the stored envelope with `nonce` on the first broker's verified topic, as its gateway (not
    /// running now) would, and waits for collector-1's answer on the agent's rejections topic there.
    private func replay(nonce: String, of agent: String, through central: MosquittoBroker, paths: DemoPaths) async throws
        -> DemoOutcome
    {
        let scenario = DemoScenario.partition[1]
        guard let record = try Self.storedRecord(nonce: nonce, in: paths.records) else {
            throw DemoError("the record with nonce \(nonce.prefix(12))… is not in \(paths.records.path)")
        }
        let topics = TopicTree()
        let listener = try MQTTClient(configuration: central.clientConfiguration(for: agent), logger: serviceLogger)
        let rejections = Mutex<[Rejection]>([])
        let messages = listener.messages
        let reader = Task {
            for await message in messages {
                if let rejection = try? Rejection(strictJSON: message.payload) { rejections.withLock { $0.append(rejection) } }
            }
        }
        defer { reader.cancel() }
        listener.start()
        let republisher = try MQTTClient(configuration: central.clientConfiguration(for: "gateway"), logger: serviceLogger)
        republisher.start()
        do {
            try await listener.waitUntilConnected(timeout: .seconds(10))
            try await listener.subscribe(topics.agentRejections(agent))
            try await republisher.waitUntilConnected(timeout: .seconds(10))
            let envelope = #"{"protected":"\#(record.protected)","payload":"\#(record.payload)","signature":"\#(record.signature)"}"#
            try await republisher.publish(MQTTMessage(topic: topics.verifiedMetrics(agent), payload: Data(envelope.utf8)))
            let deadline = ContinuousClock.now + .seconds(10)
            while rejections.withLock({ $0.isEmpty }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        } catch {
            await republisher.shutdown()
            await listener.shutdown()
            throw error
        }
        await republisher.shutdown()
        await listener.shutdown()
        guard let rejection = rejections.withLock({ $0.first }) else {
            return DemoOutcome(
                scenario: scenario, mode: "partition", expectedRejectedBy: .collector, observed: "no answer", rejection: nil,
                passed: false)
        }
        return DemoOutcome(
            scenario: scenario, mode: "partition", expectedRejectedBy: .collector,
            observed: "rejected (\(rejection.reasonCode ?? "?"))", rejection: rejection,
            passed: rejection.reasonCode == RejectionReason.nonceReplayed.code && rejection.rejectedBy == .collector)
    }

    /// The stored record with `nonce`, from the records files (the open one too).
    private static func storedRecord(nonce: String, in directory: URL) throws -> StoredRecord? {
        for file in try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        where file.lastPathComponent.hasPrefix("records-") {
            for line in try Data(contentsOf: file).split(separator: UInt8(ascii: "\n")) {
                if let record = try? JSONDecoder().decode(StoredRecord.self, from: Data(line)), record.nonce == nonce {
                    return record
                }
            }
        }
        return nil
    }
}
