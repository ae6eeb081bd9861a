import Crypto
import EdgeProofAgent
import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import EdgeProofLocalStack
import Foundation
import Logging
import ServiceLifecycle

/// `edgeproof bench drain`: how fast an agent empties a backlog over a slow link, against its TPM.
///
/// A real swtpm (ECC P-256 key), a TLS mosquitto, a collector and a passthrough gateway; the agent's spool
/// holds `batches` one-sample batches before the agent starts, and the agent reaches the broker through a
/// ``TCPProxy`` adding `delay` each way. `drain_per_s`: batches receipted per second from the agent's
/// start until its spool is empty. Beside it the TPM's bare signing rate (``TPMBareSignLoop``, same key,
/// same run, before the agent starts) and `drain_ratio` = drain_per_s / sign rate.
public struct DrainBenchmark: Sendable {
    public var batches: Int
    public var delay: Duration
    public var maximumInFlight: Int
    public var timeout: Duration

    public init(
        batches: Int = 2000, delay: Duration = .milliseconds(25),
        maximumInFlight: Int = AgentConfiguration.defaultMaximumInFlight, timeout: Duration = .seconds(600)
    ) {
        self.batches = batches
        self.delay = delay
        self.maximumInFlight = maximumInFlight
        self.timeout = timeout
    }

    public struct Result: Sendable {
        public var batches: Int
        public var drainSeconds: Double
        public var drainPerSecond: Double
        public var bareSignPerSecond: Double
        public var ratio: Double { bareSignPerSecond > 0 ? drainPerSecond / bareSignPerSecond : 0 }
        /// From the agent's start to the first batch out of the spool (connection, session, first nonces,
        /// first signature, first receipt): the fixed cost of a drain.
        public var firstReceiptSeconds: Double
        /// Batches per second while the window is full: from 10 % to 90 % of the backlog gone.
        public var steadyPerSecond: Double
        public var steadyRatio: Double { bareSignPerSecond > 0 ? steadyPerSecond / bareSignPerSecond : 0 }
        /// What the agent counted (published, accepted, resigned, receipt_timeouts, …).
        public var counters: [String: Int]
        /// Round trip through the proxy, agent side: twice the delay.
        public var addedRoundTripMilliseconds: Double
    }

    public func run() async throws -> Result {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-drain")
        defer { work.remove() }
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let device = try TPMDevice(tcti: tpm.tcti)
        let handle = PersistentHandle.defaultSigningKey
        _ = try await device.provisionSigningKey(.eccP256, at: handle)
        let signer = try await TPMSigner(device: device, handle: handle)

        let agentName = "agent-001"
        let broker = try await MosquittoBroker.start(
            clients: ["gateway", "collector-1", "monitor", agentName],
            directory: TemporaryDirectory(at: work.appending("broker")))
        defer { broker.stop() }
        let proxy = try TCPProxy(targetPort: broker.port, delay: delay)
        defer { proxy.stop() }

        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: agentName, key: signer.publicKey, createdAt: Timestamp.string(from: Date()),
                allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        let spoolDirectory = work.appending("spool").path
        try Data(
            """
            name: \(agentName)
            \(broker.configurationSection(for: agentName))
            location: US/California/Santa Clara
            sample_interval_s: 3600
            spool:
              directory: \(spoolDirectory)
            max_in_flight: \(maximumInFlight)
            log_level: critical
            """.utf8
        ).write(to: work.appending("agent.yaml"))
        var agentConfiguration = try AgentConfiguration.load(file: work.appending("agent.yaml").path, environment: [:])
        agentConfiguration.broker.port = Int(proxy.port)

        // The backlog, spooled before the agent starts (as after an outage).
        let spool = try EnvelopeSpool(directory: URL(fileURLWithPath: spoolDirectory))
        let sample = BenchmarkClaims.make(keyHash: signer.publicKeyHash, nonce: "unused")
        for _ in 0..<batches {
            try await spool.enqueue(
                EnvelopeSpool.UnsignedBatch(
                    geographicRegion: agentConfiguration.location, geolocation: nil, metrics: sample.metrics))
        }

        // The bare rate on the same key, in this run, before the agent holds the TPM.
        let bare = try TPMBareSignLoop(tcti: tpm.tcti, handle: handle)
        let digest = SHA256.hash(data: Data("edgeproof drain benchmark".utf8))
        _ = try bare.run(count: 50, digest: digest)
        let bareRate = Double(batches) / Self.seconds(try bare.run(count: batches, digest: digest))

        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        let services = ServiceGroup(
            services: try BenchServices.collectorAndGateway(
                allowlist: allowlist, gatewayMode: .passthrough, work: work, broker: broker, logger: logger),
            logger: logger)
        let result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/gateway")

            let agent = try Agent(configuration: agentConfiguration, signer: signer, logger: logger)
            let agentGroup = ServiceGroup(services: try agent.composed().services, logger: logger)
            let clock = ContinuousClock()
            let start = clock.now
            group.addTask { try await agentGroup.run() }
            var remaining = await agent.spooledCount()
            var firstOut: ContinuousClock.Instant?
            var tenth: (at: ContinuousClock.Instant, remaining: Int)?
            var ninth: (at: ContinuousClock.Instant, remaining: Int)?
            while remaining > 0 {
                guard clock.now - start < timeout else {
                    throw BenchmarkError("the agent still had \(remaining) of \(batches) batches after \(timeout)")
                }
                try await Task.sleep(for: .milliseconds(10))
                remaining = await agent.spooledCount()
                let now = clock.now
                if firstOut == nil, remaining < batches { firstOut = now }
                if tenth == nil, remaining <= batches * 9 / 10 { tenth = (now, remaining) }
                if ninth == nil, remaining <= batches / 10 { ninth = (now, remaining) }
            }
            let end = clock.now
            let elapsed = Self.seconds(end - start)
            var steady = 0.0
            if let tenth, let ninth, ninth.at > tenth.at {
                steady = Double(tenth.remaining - ninth.remaining) / Self.seconds(ninth.at - tenth.at)
            }
            await agentGroup.triggerGracefulShutdown()
            await services.triggerGracefulShutdown()
            return Result(
                batches: batches, drainSeconds: elapsed, drainPerSecond: Double(batches) / elapsed,
                bareSignPerSecond: bareRate, firstReceiptSeconds: Self.seconds((firstOut ?? end) - start),
                steadyPerSecond: steady, counters: agent.counters,
                addedRoundTripMilliseconds: Self.seconds(delay * 2) * 1000)
        }
        await monitor.shutdown()
        return result
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Runs the bench and prints its table and, last, the JSON line of its figures.
    public func runAndPrint() async throws {
        let result = try await run()
        print(
            "Agent drain: \(result.batches) spooled batches over +\(Int(result.addedRoundTripMilliseconds)) ms RTT,"
                + " max_in_flight \(maximumInFlight)")
        print(
            TextTable(
                header: ["DRAIN/S", "BARE SIGN/S", "RATIO", "SECONDS", "FIRST OUT S", "STEADY/S", "STEADY RATIO"],
                rows: [[
                    format(result.drainPerSecond), format(result.bareSignPerSecond),
                    String(format: "%.3f", result.ratio), String(format: "%.2f", result.drainSeconds),
                    String(format: "%.2f", result.firstReceiptSeconds), format(result.steadyPerSecond),
                    String(format: "%.3f", result.steadyRatio),
                ]]
            ).rendered)
        let counters = result.counters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        print("agent counters: \(counters.joined(separator: " "))")
        print(
            try jsonLine([
                "drain_per_s": result.drainPerSecond.rounded(), "bare_sign_per_s": result.bareSignPerSecond.rounded(),
                "drain_ratio": (result.ratio * 1000).rounded() / 1000, "batches": Double(result.batches),
                "first_out_s": (result.firstReceiptSeconds * 100).rounded() / 100,
                "steady_per_s": result.steadyPerSecond.rounded(),
                "steady_ratio": (result.steadyRatio * 1000).rounded() / 1000,
                "added_rtt_ms": result.addedRoundTripMilliseconds, "max_in_flight": Double(maximumInFlight),
            ]))
    }
}
