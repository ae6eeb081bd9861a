import EdgeProofAgent
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

/// `edgeproof bench outage`: a site whose uplink was down, and how it recovers.
///
/// Two TLS brokers from broker/run-broker.sh: the central one with collector-1, a site broker
/// (`--profile site`) with `agents` real agents (their spools and delivery; load-generator software keys,
/// ``SoftwareBenchmarkSigner``), and the site's gateway `bridge-site` in enforce mode between them, its
/// uplink through a ``TCPProxy``. Each agent's spool holds `batches` batches with unique markers; the uplink
/// is cut before the agents start and restored `outage` later. Measured from the restore: the time until
/// every batch is receipted (every spool empty), envelopes per second during that drain, the peak rate of
/// nonces the collector issued in any 1 s window, and from the records file the batches lost and stored
/// twice.
public struct OutageBenchmark: Sendable {
    public var agents: Int
    public var batches: Int
    public var outage: Duration
    public var releasePerSecond: Double
    public var timeout: Duration

    public init(
        agents: Int = 50, batches: Int = 20, outage: Duration = .seconds(10), releasePerSecond: Double = 1000,
        timeout: Duration = .seconds(300)
    ) {
        self.agents = agents
        self.batches = batches
        self.outage = outage
        self.releasePerSecond = releasePerSecond
        self.timeout = timeout
    }

    public struct Result: Sendable {
        public var envelopes: Int
        public var drainSeconds: Double
        public var drainPerSecond: Double
        public var noncePeakPerSecond: Double
        public var lost: Int
        public var duplicated: Int
        /// What waited in the bridge's up queue when the uplink came back.
        public var queuedAtRestore: Int
        /// The bridge's drops by direction and reason (expired nonce requests nobody waited for).
        public var bridgeDropped: [String: Int]
        /// The agents' counters, summed.
        public var agentCounters: [String: Int]
    }

    static let bridge = "bridge-site"

    public func run() async throws -> Result {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-outage")
        defer { work.remove() }
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical
        let names = (0..<agents).map { String(format: "site-agent-%03d", $0) }
        let central = try await MosquittoBroker.start(
            clients: ["collector-1", "monitor", Self.bridge], directory: TemporaryDirectory(at: work.appending("central")))
        defer { central.stop() }
        let site = try await MosquittoBroker.start(
            clients: names + [Self.bridge], directory: TemporaryDirectory(at: work.appending("site")), profile: .site)
        defer { site.stop() }
        let uplink = try TCPProxy(targetPort: central.port)
        defer { uplink.stop() }

        let (allowlist, signers) = try SoftwareBenchmarkSigner.allowlisted(names)
        let allowlistPath = work.appending("allowlist.yaml").path
        try AllowlistFile(path: allowlistPath).save(allowlist)
        let nonceKeys = work.appending("nonce.keys")
        try NonceKeyFile.generate(at: nonceKeys)
        let records = work.appending("records")
        try Data(
            """
            id: collector-1
            \(central.configurationSection(for: "collector-1"))
            allowlist_file: \(allowlistPath)
            nonce_key_file: \(nonceKeys.path)
            records:
              directory: \(records.path)
            """.utf8
        ).write(to: work.appending("collector.yaml"))
        try Data(
            """
            id: \(Self.bridge)
            mode: enforce
            \(site.configurationSection(for: Self.bridge))
            \(central.configurationSection(for: Self.bridge, section: "upstream", port: uplink.port))
            relay:
              directory: \(work.appending("relay").path)
              release_per_s: \(releasePerSecond)
            allowlist_file: \(allowlistPath)
            """.utf8
        ).write(to: work.appending("bridge.yaml"))
        let collector = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: work.appending("collector.yaml").path, environment: [:]),
            logger: logger)
        let gateway = try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: work.appending("bridge.yaml").path, environment: [:]),
            logger: logger)

        // The agents and their backlogs, each batch with a marker the records are checked for.
        var agentServices: [any Service] = []
        var running: [Agent] = []
        var expected: [String] = []
        for name in names {
            guard let signer = signers[name] else { throw BenchmarkError("no key for \(name)") }
            let spoolDirectory = work.appending("spool-\(name)")
            try Data(
                """
                name: \(name)
                \(site.configurationSection(for: name))
                location: US/California/Santa Clara
                sample_interval_s: 3600
                spool:
                  directory: \(spoolDirectory.path)
                log_level: critical
                """.utf8
            ).write(to: work.appending("\(name).yaml"))
            let configuration = try AgentConfiguration.load(file: work.appending("\(name).yaml").path, environment: [:])
            let markers = (0..<batches).map { "\(name)/\($0)" }
            expected += markers
            try await MarkedBatches.enqueue(
                markers, into: try EnvelopeSpool(directory: spoolDirectory), location: configuration.location,
                service: ServiceInfo(name: "outage-bench", version: "1", instanceID: name), metricType: "outage-bench")
            let agent = try Agent(configuration: configuration, signer: signer, logger: logger)
            running.append(agent)
            agentServices += try agent.composed().services
        }

        let (monitor, statuses) = try await central.statusMonitor(logger: logger)
        let services = ServiceGroup(services: collector.services + gateway.services, logger: logger)
        let agentGroup = ServiceGroup(services: agentServices, logger: logger)
        let clock = ContinuousClock()
        let measured: (drain: Duration, peak: Double, queued: Int, left: Int) = try await withThrowingTaskGroup(
            of: Void.self
        ) { group in
            group.addTask { try await services.run() }
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/\(Self.bridge)")
            uplink.cut()
            group.addTask { try await agentGroup.run() }
            try await Task.sleep(for: outage)
            let queued = await gateway.component.relayStatus()?.up.messages ?? 0
            uplink.restore()
            let restoredAt = clock.now

            // Nonces issued, sampled: the peak of any 1 s window.
            var samples: [(at: ContinuousClock.Instant, issued: Int)] = [(restoredAt, collector.component.counters["nonces_issued"] ?? 0)]
            var peak = 0.0
            var left = Int.max
            let deadline = restoredAt + timeout
            while clock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                let now = clock.now
                let issued = collector.component.counters["nonces_issued"] ?? 0
                samples.append((now, issued))
                if let base = samples.last(where: { now - $0.at >= .seconds(1) }) {
                    peak = max(peak, Double(issued - base.issued) / Self.seconds(now - base.at))
                } else {
                    peak = max(peak, Double(issued - samples[0].issued))  // under a second since the restore
                }
                left = 0
                for agent in running { left += await agent.spooledCount() }
                if left == 0 { break }
            }
            let drain = clock.now - restoredAt
            await agentGroup.triggerGracefulShutdown()
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            return (drain, peak, queued, left)
        }
        await monitor.shutdown()
        guard measured.left == 0 else {
            throw BenchmarkError("\(measured.left) batches still spooled \(timeout) after the uplink returned")
        }

        let counts = try MarkedBatches.counts(inRecordsDirectory: records)
        var agentCounters: [String: Int] = [:]
        for agent in running { agentCounters.merge(agent.counters) { $0 + $1 } }
        var dropped: [String: Int] = [:]
        for (name, value) in gateway.component.counters where name.hasPrefix("relay.") && name.contains(".dropped.") {
            dropped[String(name.dropFirst("relay.".count))] = value
        }
        let drainSeconds = Self.seconds(measured.drain)
        return Result(
            envelopes: expected.count, drainSeconds: drainSeconds,
            drainPerSecond: Double(expected.count) / max(drainSeconds, 0.001), noncePeakPerSecond: measured.peak,
            lost: expected.filter { counts[$0] == nil }.count, duplicated: counts.values.filter { $0 > 1 }.count,
            queuedAtRestore: measured.queued, bridgeDropped: dropped, agentCounters: agentCounters)
    }

    /// Runs and prints the figures, then the JSON line.
    public func runAndPrint() async throws {
        print(
            "bench outage: \(agents) agents × \(batches) spooled batches on a site broker, uplink cut for \(Self.seconds(outage)) s, release \(releasePerSecond)/s"
        )
        let result = try await run()
        let f = { (value: Double) in String(format: "%.1f", value) }
        print("waiting in the bridge at the restore: \(result.queuedAtRestore) messages")
        print("drain: \(f(result.drainSeconds)) s for \(result.envelopes) envelopes, \(f(result.drainPerSecond)) envelopes/s")
        print("nonce peak at the collector: \(f(result.noncePeakPerSecond)) nonces/s (release limit \(f(releasePerSecond)) messages/s)")
        print("lost \(result.lost), stored twice \(result.duplicated)")
        print("bridge drops: \(result.bridgeDropped.isEmpty ? "none" : result.bridgeDropped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        let agentKeys = ["published", "accepted", "nonce_timeouts", "receipt_timeouts", "resigned"]
        print("agents: " + agentKeys.map { "\($0) \(result.agentCounters[$0] ?? 0)" }.joined(separator: ", "))
        print(
            #"{"bench":"outage","agents":\#(agents),"batches_per_agent":\#(batches),"outage_s":\#(Self.seconds(outage)),"release_per_s":\#(releasePerSecond),"outage_drain_s":\#(f(result.drainSeconds)),"outage_drain_per_s":\#(f(result.drainPerSecond)),"outage_nonce_peak_per_s":\#(f(result.noncePeakPerSecond)),"outage_lost":\#(result.lost),"outage_duplicated":\#(result.duplicated),"outage_queued_at_restore":\#(result.queuedAtRestore)}"#
        )
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
