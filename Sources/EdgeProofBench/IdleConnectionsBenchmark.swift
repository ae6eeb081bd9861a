import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofService
import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `edgeproof bench idle`: thousands of agents connected to one broker at once, idle (each with its own
/// certificate, mutual TLS, a keepalive every 60 s), while a few agents send through the gateway (enforce)
/// to the collector. Measures the broker's resident memory per connection and the senders' publish-to-receipt
/// latency without and with the idle crowd, in one run.
///
/// The idle agents live in child processes (`edgeproof bench hold-idle`, up to ``connectionsPerHolder``
/// each): every libmosquitto client holds five descriptors, and one process may have 20,000 here.
public struct IdleConnectionsBenchmark: Sendable {
    public var idle: Int
    public var senders: Int
    public var envelopesPerSender: Int
    /// The senders' combined rate, evenly paced.
    public var ratePerSecond: Double

    public static let connectionsPerHolder = 2_000

    public init(idle: Int = 5_000, senders: Int = 10, envelopesPerSender: Int = 60, ratePerSecond: Double = 200) {
        self.idle = idle
        self.senders = senders
        self.envelopesPerSender = envelopesPerSender
        self.ratePerSecond = ratePerSecond
    }

    public struct Result: Sendable {
        public var idle: Int
        public var connectSeconds: Double
        public var brokerBeforeMiB: Double
        public var brokerAfterMiB: Double
        public var baseline: (p50: Double, p99: Double, perSecond: Double)
        public var loaded: (p50: Double, p99: Double, perSecond: Double)
        public var kibPerConnection: Double { idle > 0 ? (brokerAfterMiB - brokerBeforeMiB) * 1024 / Double(idle) : 0 }
    }

    public func run() async throws -> Result {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-idle")
        defer { work.remove() }
        let senderNames = (0..<senders).map { String(format: "load-%03d", $0) }
        let idleNames = (0..<idle).map { String(format: "idle-%05d", $0) }
        let broker = try await MosquittoBroker.start(
            clients: ["gateway", "collector-1", "monitor"], fleet: senderNames + idleNames,
            directory: TemporaryDirectory(at: work.appending("broker")))
        defer { broker.stop() }
        guard let brokerPID = broker.pid else { throw BenchmarkError("mosquitto is not running") }
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical

        let (allowlist, signers) = try SoftwareBenchmarkSigner.allowlisted(senderNames)
        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        let services = ServiceGroup(
            services: try BenchServices.collectorAndGateway(
                allowlist: allowlist, gatewayMode: .enforce, work: work, broker: broker, logger: logger),
            logger: logger)
        let result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/gateway")
            let generators = try await senderNames.asyncMap { name in
                guard let signer = signers[name] else { throw BenchmarkError("no key for \(name)") }
                return try await LoadGenerator(name: name, broker: broker, signer: signer, logger: logger)
            }
            let baseline = try await paced(generators)
            let before = ResidentMemory.of(pid: brokerPID)?.current ?? 0

            let clock = ContinuousClock()
            let start = clock.now
            let holders = try IdleHolders(names: idleNames, broker: broker)
            defer { holders.stop() }
            try holders.waitUntilConnected(timeout: .seconds(300))
            let connectSeconds = seconds(clock.now - start)
            try await Task.sleep(for: .seconds(2))
            let after = ResidentMemory.of(pid: brokerPID)?.current ?? 0

            let loaded = try await paced(generators)
            holders.stop()
            for generator in generators { await generator.shutdown() }
            await services.triggerGracefulShutdown()
            return Result(
                idle: idle, connectSeconds: connectSeconds, brokerBeforeMiB: before, brokerAfterMiB: after,
                baseline: baseline, loaded: loaded)
        }
        await monitor.shutdown()
        return result
    }

    /// Every sender publishes its envelopes evenly paced (the senders staggered), fresh nonces fetched first;
    /// publish-to-receipt latency percentiles and the rate achieved.
    private func paced(_ generators: [LoadGenerator]) async throws -> (p50: Double, p99: Double, perSecond: Double) {
        var prepared: [[(nonce: String, payload: Data)]] = []
        for generator in generators { prepared.append(try await generator.prepare(envelopes: envelopesPerSender)) }
        let interval = Duration.seconds(Double(generators.count) / ratePerSecond)
        let clock = ContinuousClock()
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { senders in
            for (index, (generator, envelopes)) in zip(generators, prepared).enumerated() {
                let offset = interval * (Double(index) / Double(generators.count))
                senders.addTask { try await generator.send(envelopes, every: interval, after: offset) }
            }
            var all: [Duration] = []
            for try await part in senders { all += part }
            return all
        }
        return (
            EndToEndBenchmark.percentile(0.5, of: latencies), EndToEndBenchmark.percentile(0.99, of: latencies),
            Double(latencies.count) / seconds(clock.now - start)
        )
    }

    public func runAndPrint() async throws {
        let result = try await run()
        print("Idle connections: \(result.idle) agents connected at once (own certificates, mutual TLS), \(senders) sending \(Int(ratePerSecond))/s in total")
        print(String(format: "connecting them took %.1f s; mosquitto VmRSS %.1f MiB before, %.1f MiB after: %.1f KiB per connection",
            result.connectSeconds, result.brokerBeforeMiB, result.brokerAfterMiB, result.kibPerConnection))
        print("SENDERS' LATENCY (publish to receipt)  P50 MS  P99 MS  ENVELOPES/S")
        print(String(format: "without the idle agents               %6.1f  %6.1f  %6.0f", result.baseline.p50, result.baseline.p99, result.baseline.perSecond))
        print(String(format: "with %5d idle agents connected      %6.1f  %6.1f  %6.0f", result.idle, result.loaded.p50, result.loaded.p99, result.loaded.perSecond))
        print(try jsonLine([
            "idle_connections": Double(result.idle), "idle_connect_s": result.connectSeconds,
            "broker_rss_before_mib": result.brokerBeforeMiB, "broker_rss_after_mib": result.brokerAfterMiB,
            "broker_kib_per_connection": result.kibPerConnection,
            "p50_ms_without": result.baseline.p50, "p99_ms_without": result.baseline.p99,
            "p50_ms_with": result.loaded.p50, "p99_ms_with": result.loaded.p99,
            "p99_ratio": result.baseline.p99 > 0 ? result.loaded.p99 / result.baseline.p99 : 0,
        ]))
    }

    /// The child side (`edgeproof bench hold-idle`): connects `names` to the broker on 127.0.0.1:`port`, each
    /// with `certificateDirectory`/NAME.crt and .key, prints "connected N" when all are, and holds them until
    /// its standard input closes (the parent is done or gone).
    public static func hold(names: [String], port: Int, certificateDirectory: URL) async throws {
        var logger = Logger(label: "edgeproof.bench.idle")
        logger.logLevel = .critical
        let clients = try names.map { name in
            try MQTTClient(
                configuration: MQTTConfiguration(
                    port: port, clientID: name, caFile: certificateDirectory.appendingPathComponent("ca.crt").path,
                    certificateFile: certificateDirectory.appendingPathComponent("\(name).crt").path,
                    keyFile: certificateDirectory.appendingPathComponent("\(name).key").path, keepAlive: 60,
                    cleanStart: true, sessionExpiryInterval: 0, reconnectDelay: 1...10, username: name),
                logger: logger)
        }
        for client in clients { client.start() }
        for client in clients { try await client.waitUntilConnected(timeout: .seconds(240)) }
        FileHandle.standardOutput.write(Data("connected \(clients.count)\n".utf8))
        // Until the parent closes our standard input.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                _ = FileHandle.standardInput.readDataToEndOfFile()
                done.resume()
            }.start()
        }
        for client in clients { await client.shutdown() }
    }
}

/// The child processes holding the idle connections, ``IdleConnectionsBenchmark/connectionsPerHolder`` each.
private final class IdleHolders: @unchecked Sendable {
    private var processes: [(process: Process, input: Pipe, output: Pipe)] = []

    init(names: [String], broker: MosquittoBroker) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var start = 0
        while start < names.count {
            let chunk = names[start..<min(start + IdleConnectionsBenchmark.connectionsPerHolder, names.count)]
            start += chunk.count
            let process = Process()
            process.executableURL = executable
            process.arguments = [
                "bench", "hold-idle", "--port", "\(broker.port)", "--certificates", broker.certificateDirectory.path,
                "--names", chunk.joined(separator: ","),
            ]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append((process, input, output))
        }
    }

    func waitUntilConnected(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        for holder in processes {
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                guard ContinuousClock.now < deadline, holder.process.isRunning else {
                    throw BenchmarkError("an idle-connection holder (pid \(holder.process.processIdentifier)) did not connect its agents")
                }
                let chunk = holder.output.fileHandleForReading.availableData
                if chunk.isEmpty { usleep(50_000) }
                line += chunk
            }
        }
    }

    /// Closes their standard input (they disconnect and exit), SIGKILL after 20 s.
    func stop() {
        for holder in processes { try? holder.input.fileHandleForWriting.close() }
        let deadline = ContinuousClock.now + .seconds(20)
        for holder in processes {
            while holder.process.isRunning, ContinuousClock.now < deadline { usleep(50_000) }
            if holder.process.isRunning { kill(holder.process.processIdentifier, SIGKILL) }
        }
        processes = []
    }
}
