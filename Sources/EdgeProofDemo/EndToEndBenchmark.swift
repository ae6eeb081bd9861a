import Crypto
import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `edgeproof bench e2e`: envelopes through the whole path — TLS broker, gateway in enforce mode,
/// collector writing durable records — from many simulated agents. The load generators sign with
/// software keys (``SoftwareBenchmarkSigner``), never the agent; their nonces are real, fetched from
/// the collector through the gateway before the clock starts.
public struct EndToEndBenchmark: Sendable {
    public var agents: Int
    public var envelopesPerAgent: Int
    public var inFlightPerAgent: Int

    public init(agents: Int = 20, envelopesPerAgent: Int = 100, inFlightPerAgent: Int = 8) {
        self.agents = agents
        self.envelopesPerAgent = envelopesPerAgent
        self.inFlightPerAgent = inFlightPerAgent
    }

    public struct Result: Sendable {
        public var envelopes: Int
        public var perSecond: Double
        public var p50Milliseconds: Double
        public var p99Milliseconds: Double
        public var envelopeBytes: Int
    }

    public func run() async throws -> Result {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-e2e")
        defer { work.remove() }
        let names = (0..<agents).map { String(format: "load-%03d", $0) }
        let broker = try MosquittoBroker.start(
            clients: ["gateway", "collector-1", "monitor"] + names, directory: TemporaryDirectory(at: work.appending("broker")))
        defer { broker.stop() }
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical

        var allowlist = Allowlist()
        var signers: [String: SoftwareBenchmarkSigner] = [:]
        for name in names {
            let signer = try SoftwareBenchmarkSigner(.es256)
            signers[name] = signer
            try allowlist.add(
                AllowlistEntry(
                    name: name, key: try signer.publicKey, createdAt: Timestamp.string(from: Date()),
                    allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        }
        let allowlistPath = work.appending("allowlist.yaml").path
        try AllowlistFile(path: allowlistPath).save(allowlist)
        let nonceKeys = work.appending("nonce.keys")
        try NonceKeyFile.generate(at: nonceKeys)

        func brokerSection(_ identity: String) -> String { broker.configurationSection(for: identity) }
        let collectorConfig = work.appending("collector.yaml")
        try Data(
            """
            id: collector-1
            \(brokerSection("collector-1"))
            allowlist_file: \(allowlistPath)
            nonce_key_file: \(nonceKeys.path)
            records:
              directory: \(work.appending("records").path)
            """.utf8
        ).write(to: collectorConfig)
        let gatewayConfig = work.appending("gateway.yaml")
        try Data(
            """
            id: gateway
            mode: enforce
            \(brokerSection("gateway"))
            allowlist_file: \(allowlistPath)
            """.utf8
        ).write(to: gatewayConfig)

        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)

        let services = ServiceGroup(
            services: [
                try Collector(configuration: try CollectorConfiguration.load(file: collectorConfig.path, environment: [:]), logger: logger),
                try Gateway(configuration: try GatewayConfiguration.load(file: gatewayConfig.path, environment: [:]), logger: logger),
            ],
            logger: logger)
        let result: Result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/gateway")
            let generators = try await names.asyncMap { name in
                guard let signer = signers[name] else { throw DemoError("no key for \(name)") }
                return try await LoadGenerator(name: name, broker: broker, signer: signer, logger: logger)
            }
            // Nonces and signatures first: the timed part is the path, not the load generator.
            for generator in generators { try await generator.prepare(envelopes: envelopesPerAgent) }

            let clock = ContinuousClock()
            let start = clock.now
            let latencies = try await withThrowingTaskGroup(of: [Duration].self) { senders in
                for generator in generators {
                    senders.addTask { try await generator.send(inFlight: inFlightPerAgent) }
                }
                var all: [Duration] = []
                for try await part in senders { all += part }
                return all
            }
            let elapsed = clock.now - start
            for generator in generators { await generator.shutdown() }
            await services.triggerGracefulShutdown()

            let envelopeBytes = await generators.first?.envelopeSize ?? 0
            let sorted = latencies.sorted()
            func percentile(_ p: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
                return milliseconds(sorted[max(0, index)])
            }
            return Result(
                envelopes: sorted.count, perSecond: Double(sorted.count) / seconds(elapsed),
                p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99),
                envelopeBytes: envelopeBytes)
        }
        await monitor.shutdown()
        return result
    }
}

/// One simulated agent: its own certificate and connection, real nonces, pre-signed envelopes.
actor LoadGenerator {
    let name: String
    private let client: MQTTClient
    private let signer: SoftwareBenchmarkSigner
    private let topics = TopicTree()
    private var envelopes: [(nonce: String, payload: Data)] = []
    private let receipts = ReceiptBoard()

    init(name: String, broker: MosquittoBroker, signer: SoftwareBenchmarkSigner, logger: Logger) async throws {
        self.name = name
        self.signer = signer
        client = try MQTTClient(
            configuration: MQTTConfiguration(
                port: Int(broker.port), clientID: name, caFile: broker.caFile,
                certificateFile: broker.certificate(for: name), keyFile: broker.key(for: name), cleanStart: true),
            logger: logger)
        let board = receipts
        let messages = client.messages
        Task {
            for await message in messages {
                if let receipt = try? JSONDecoder().decode(Receipt.self, from: message.payload) {
                    board.arrived(receipt.nonce)
                } else if let rejection = try? JSONDecoder().decode(Rejection.self, from: message.payload),
                    let nonce = rejection.details["nonce"]?.stringValue
                {
                    board.failed(nonce, rejection.reasonCode ?? "?")
                }
            }
        }
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(10))
        try await client.subscribe(topics.agentReceipts(name))
        try await client.subscribe(topics.agentRejections(name))
    }

    var envelopeSize: Int { envelopes.first?.payload.count ?? 0 }

    func prepare(envelopes count: Int) async throws {
        for _ in 0..<count {
            envelopes.append(try await BenchmarkClaims.signedEnvelope(agent: name, client: client, signer: signer, topics: topics))
        }
    }

    /// Publishes every prepared envelope, at most `inFlight` awaiting their receipts, and returns
    /// each one's time from publish to receipt.
    func send(inFlight: Int) async throws -> [Duration] {
        let topic = topics.agentMetrics(name)
        let prepared = envelopes
        let (client, receipts) = (client, receipts)
        return try await withThrowingTaskGroup(of: Duration.self) { group in
            var latencies: [Duration] = []
            for (index, envelope) in prepared.enumerated() {
                if index >= inFlight, let latency = try await group.next() { latencies.append(latency) }
                group.addTask {
                    let clock = ContinuousClock()
                    let start = clock.now
                    let waiting = receipts.expect(envelope.nonce)
                    try await client.publish(MQTTMessage(topic: topic, payload: envelope.payload))
                    try await waiting.value
                    return clock.now - start
                }
            }
            for try await latency in group { latencies.append(latency) }
            return latencies
        }
    }

    func shutdown() async {
        await client.shutdown()
    }
}

/// Matches receipts (and rejections) to the envelopes waiting for them, by nonce.
final class ReceiptBoard: Sendable {
    private let state = Mutex<(waiting: [String: CheckedContinuation<Void, any Error>], early: [String: String?])>(([:], [:]))

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// A task that finishes when the receipt for `nonce` arrives (or fails on a rejection, or after 30 s).
    func expect(_ nonce: String) -> Task<Void, any Error> {
        Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        let early = self.state.withLock { state -> String?? in
                            if let outcome = state.early.removeValue(forKey: nonce) { return .some(outcome) }
                            state.waiting[nonce] = continuation
                            return .none
                        }
                        switch early {
                        case .none: break
                        case .some(nil): continuation.resume()
                        case .some(.some(let reason)): continuation.resume(throwing: Refused(description: "rejected: \(reason)"))
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(30))
                    throw Refused(description: "no receipt within 30 s")
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    func arrived(_ nonce: String) {
        settle(nonce, reason: nil)
    }

    func failed(_ nonce: String, _ reason: String) {
        settle(nonce, reason: reason)
    }

    private func settle(_ nonce: String, reason: String?) {
        let waiter = state.withLock { state in
            let waiter = state.waiting.removeValue(forKey: nonce)
            if waiter == nil { state.early[nonce] = .some(reason) }
            return waiter
        }
        if let reason {
            waiter?.resume(throwing: Refused(description: "rejected: \(reason)"))
        } else {
            waiter?.resume()
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func milliseconds(_ duration: Duration) -> Double {
    seconds(duration) * 1000
}
