import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `edgeproof bench e2e --brokers 2`: the saturating phase of `bench e2e`, once against one broker and
/// once spread over two partitioned brokers (agents split between them, an enforce gateway on each, one
/// collector with `brokers:` on both), in the same run. `partition_scaling` = envelopes/s on two brokers
/// over envelopes/s on one; beside it the CPU seconds each process used per 1,000 envelopes (this
/// process holds the load generators, the gateways and the collector).
public struct PartitionBenchmark: Sendable {
    public var agents: Int
    public var envelopesPerAgent: Int
    public var inFlightPerAgent: Int

    public init(agents: Int = 20, envelopesPerAgent: Int = 100, inFlightPerAgent: Int = 8) {
        self.agents = agents
        self.envelopesPerAgent = envelopesPerAgent
        self.inFlightPerAgent = inFlightPerAgent
    }

    public struct Phase: Sendable {
        public var brokers: Int
        public var perSecond: Double
        /// CPU seconds per 1,000 envelopes: `services+load` (this process), `mosquitto-1`, `mosquitto-2`.
        public var cpuPerThousand: [String: Double]
    }

    func saturate(brokers count: Int) async throws -> Phase {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-partitions")
        defer { work.remove() }
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical
        let names = (0..<agents).map { String(format: "load-%03d", $0) }
        var brokers: [MosquittoBroker] = []
        defer { brokers.forEach { $0.stop() } }
        for index in 0..<count {
            let members = names.enumerated().filter { $0.offset % count == index }.map(\.element)
            brokers.append(
                try await MosquittoBroker.start(
                    clients: ["gateway", "collector-1", "monitor"] + members,
                    directory: TemporaryDirectory(at: work.appending("broker-\(index)"))))
        }
        let (allowlist, signers) = try SoftwareBenchmarkSigner.allowlisted(names)
        let allowlistPath = work.appending("allowlist.yaml").path
        try AllowlistFile(path: allowlistPath).save(allowlist)
        try NonceKeyFile.generate(at: work.appending("nonce.keys"))
        let entries = brokers.map { broker in
            "  - {host: 127.0.0.1, port: \(broker.port), ca_file: \(broker.caFile), cert_file: \(broker.certificate(for: "collector-1")), key_file: \(broker.key(for: "collector-1"))}"
        }
        try Data(
            """
            id: collector-1
            brokers:
            \(entries.joined(separator: "\n"))
            allowlist_file: \(allowlistPath)
            nonce_key_file: \(work.appending("nonce.keys").path)
            records:
              directory: \(work.appending("records").path)
            """.utf8
        ).write(to: work.appending("collector.yaml"))
        var services = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: work.appending("collector.yaml").path, environment: [:]),
            logger: logger
        ).services
        for (index, broker) in brokers.enumerated() {
            let path = work.appending("gateway-\(index).yaml")
            try Data(
                """
                id: gateway
                mode: enforce
                \(broker.configurationSection(for: "gateway"))
                allowlist_file: \(allowlistPath)
                """.utf8
            ).write(to: path)
            services += try Gateway.compose(
                configuration: try GatewayConfiguration.load(file: path.path, environment: [:]), logger: logger
            ).services
        }
        var monitors: [(MQTTClient, StatusWatcher)] = []
        for broker in brokers { monitors.append(try await broker.statusMonitor(logger: logger)) }
        let running = RunningServices(services, logger: logger)
        do {
            for (_, statuses) in monitors {
                try await statuses.waitForOnline("collector/collector-1")
                try await statuses.waitForOnline("gateway/gateway")
            }
            var generators: [LoadGenerator] = []
            for (offset, name) in names.enumerated() {
                guard let signer = signers[name] else { throw BenchmarkError("no key for \(name)") }
                generators.append(
                    try await LoadGenerator(name: name, broker: brokers[offset % count], signer: signer, logger: logger))
            }
            var prepared: [[(nonce: String, payload: Data)]] = []
            for generator in generators { prepared.append(try await generator.prepare(envelopes: envelopesPerAgent)) }

            let pids = ["services+load": getpid()].merging(
                brokers.enumerated().compactMap { index, broker in broker.pid.map { ("mosquitto-\(index + 1)", $0) } }
            ) { first, _ in first }
            let before = pids.mapValues { Self.cpuSeconds(of: $0) }
            let clock = ContinuousClock()
            let start = clock.now
            let receipted = try await withThrowingTaskGroup(of: Int.self) { senders in
                for (generator, envelopes) in zip(generators, prepared) {
                    let inFlight = inFlightPerAgent
                    senders.addTask { try await generator.send(envelopes, inFlight: inFlight).count }
                }
                return try await senders.reduce(0, +)
            }
            let seconds = EdgeProofBench.seconds(clock.now - start)
            let cpu = pids.mapValues { Self.cpuSeconds(of: $0) }.merging(before) { after, first in after - first }
            for generator in generators { await generator.shutdown() }
            try await running.stop()
            for (client, _) in monitors { await client.shutdown() }
            return Phase(
                brokers: count, perSecond: Double(receipted) / seconds,
                cpuPerThousand: cpu.mapValues { $0 / Double(max(receipted, 1)) * 1000 })
        } catch {
            try? await running.stop()
            for (client, _) in monitors { await client.shutdown() }
            throw error
        }
    }

    /// utime + stime of `pid` from /proc, seconds.
    static func cpuSeconds(of pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public func runAndPrint() async throws {
        print("bench e2e --brokers 2: \(agents) agents × \(envelopesPerAgent) envelopes, \(inFlightPerAgent) in flight each; one broker, then two partitions")
        let one = try await saturate(brokers: 1)
        let two = try await saturate(brokers: 2)
        let f = { (value: Double) in String(format: "%.1f", value) }
        for phase in [one, two] {
            let split = phase.cpuPerThousand.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2f", $0.value)) s" }
            print("\(phase.brokers) broker(s): \(f(phase.perSecond)) envelopes/s; CPU per 1,000 envelopes: \(split.joined(separator: ", "))")
        }
        let scaling = one.perSecond > 0 ? two.perSecond / one.perSecond : 0
        print(
            #"{"bench":"e2e_partitions","agents":\#(agents),"e2e_per_s_1_broker":\#(f(one.perSecond)),"e2e_per_s_2_brokers":\#(f(two.perSecond)),"partition_scaling":\#(String(format: "%.2f", scaling)),"cores":\#(ProcessInfo.processInfo.activeProcessorCount)}"#
        )
    }
}
