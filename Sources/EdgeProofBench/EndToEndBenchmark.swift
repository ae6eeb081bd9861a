import Crypto
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
import Synchronization

/// `edgeproof bench e2e`: envelopes through the whole path — TLS broker, gateway in enforce mode,
/// collector writing durable records — from many simulated agents. The load generators sign with
/// software keys (``SoftwareBenchmarkSigner``), never the agent; their nonces are real, fetched from
/// the collector through the gateway before the clock starts.
public struct EndToEndBenchmark: Sendable {
    public var agents: Int
    public var envelopesPerAgent: Int
    public var inFlightPerAgent: Int
    /// The collector and gateway serve `/metrics`, scraped every second, and the collector writes OTLP records.
    public var operations: Bool

    public init(agents: Int = 20, envelopesPerAgent: Int = 100, inFlightPerAgent: Int = 8, operations: Bool = false) {
        self.agents = agents
        self.envelopesPerAgent = envelopesPerAgent
        self.inFlightPerAgent = inFlightPerAgent
        self.operations = operations
    }

    public struct Result: Sendable {
        /// Envelopes receipted in the saturating phase, and their rate.
        public var envelopes: Int
        public var perSecond: Double
        /// Latency (publish to receipt) when sending at half of `perSecond`.
        public var p50Milliseconds: Double
        public var p99Milliseconds: Double
        /// Latency in the saturating phase (queueing included).
        public var saturatedP50Milliseconds: Double
        public var saturatedP99Milliseconds: Double
        /// The rate actually offered and receipted in the half-rate phase.
        public var halfRatePerSecond: Double
        /// Bare MQTT, same broker, message size and two hops (agent → forwarder → subscriber).
        public var transportPerSecond: Double
        public var envelopeBytes: Int

        public var ratio: Double { transportPerSecond > 0 ? perSecond / transportPerSecond : 0 }
    }

    public func run() async throws -> Result {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-e2e")
        defer { work.remove() }
        let names = (0..<agents).map { String(format: "load-%03d", $0) }
        let broker = try await MosquittoBroker.start(
            clients: ["gateway", "collector-1", "monitor"], fleet: names, directory: TemporaryDirectory(at: work.appending("broker")))
        defer { broker.stop() }
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical

        let (allowlist, signers) = try SoftwareBenchmarkSigner.allowlisted(names)
        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        let services = ServiceGroup(
            services: try BenchServices.collectorAndGateway(
                allowlist: allowlist, gatewayMode: .enforce, work: work, broker: broker, operations: operations,
                logger: logger),
            logger: logger)
        var result: Result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/gateway")
            let generators = try await names.asyncMap { name in
                guard let signer = signers[name] else { throw BenchmarkError("no key for \(name)") }
                return try await LoadGenerator(name: name, broker: broker, signer: signer, logger: logger)
            }
            // Nonces and signatures first, for both phases: the timed part is the path, not the load
            // generator.
            var saturating: [[(nonce: String, payload: Data)]] = []
            var paced: [[(nonce: String, payload: Data)]] = []
            for generator in generators {
                saturating.append(try await generator.prepare(envelopes: envelopesPerAgent))
                paced.append(try await generator.prepare(envelopes: envelopesPerAgent))
            }

            // 1. Saturation: every agent keeps `inFlightPerAgent` envelopes awaiting receipts.
            let clock = ContinuousClock()
            var start = clock.now
            let saturated = try await withThrowingTaskGroup(of: [Duration].self) { senders in
                for (generator, envelopes) in zip(generators, saturating) {
                    senders.addTask { try await generator.send(envelopes, inFlight: inFlightPerAgent) }
                }
                var all: [Duration] = []
                for try await part in senders { all += part }
                return all
            }
            let maximum = Double(saturated.count) / seconds(clock.now - start)

            // 2. Half the maximum rate, evenly paced per agent: the latency a user sees below saturation.
            let interval = Duration.seconds(Double(generators.count) / (maximum / 2))
            start = clock.now
            let halfRate = try await withThrowingTaskGroup(of: [Duration].self) { senders in
                for (index, (generator, envelopes)) in zip(generators, paced).enumerated() {
                    // Staggered starts, so the agents' sends interleave instead of arriving in bursts.
                    let offset = interval * (Double(index) / Double(generators.count))
                    senders.addTask { try await generator.send(envelopes, every: interval, after: offset) }
                }
                var all: [Duration] = []
                for try await part in senders { all += part }
                return all
            }
            let halfRatePerSecond = Double(halfRate.count) / seconds(clock.now - start)
            for generator in generators { await generator.shutdown() }
            await services.triggerGracefulShutdown()

            let envelopeBytes = await generators.first?.envelopeSize ?? 0
            return Result(
                envelopes: saturated.count, perSecond: maximum,
                p50Milliseconds: Self.percentile(0.5, of: halfRate), p99Milliseconds: Self.percentile(0.99, of: halfRate),
                saturatedP50Milliseconds: Self.percentile(0.5, of: saturated),
                saturatedP99Milliseconds: Self.percentile(0.99, of: saturated), halfRatePerSecond: halfRatePerSecond,
                transportPerSecond: 0, envelopeBytes: envelopeBytes)
        }
        await monitor.shutdown()

        // 3. The bare transport on the same broker, same size and path, once the services are gone
        // (their identities are free again).
        result.transportPerSecond = try await TwoHopTransport(
            broker: broker, publishers: names, size: result.envelopeBytes, count: result.envelopes,
            inFlightPerPublisher: inFlightPerAgent, logger: logger
        ).run()
        return result
    }

    static func percentile(_ p: Double, of latencies: [Duration]) -> Double {
        let sorted = latencies.sorted()
        guard !sorted.isEmpty else { return 0 }
        let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
        return milliseconds(sorted[max(0, index)])
    }
}

/// Bare MQTT over the envelopes' path: each publisher (an agent identity) sends QoS 1 messages to its
/// `agents/{name}/metrics`; a forwarder (the gateway's identity) republishes each on
/// `verified/{name}/metrics`; a subscriber (the collector's identity) counts them. Same TLS broker,
/// same ACL, no verification, no files.
struct TwoHopTransport {
    let broker: MosquittoBroker
    let publishers: [String]
    let size: Int
    let count: Int
    let inFlightPerPublisher: Int
    let logger: Logger

    func run() async throws -> Double {
        let topics = TopicTree()
        func client(_ identity: String) throws -> MQTTClient {
            try MQTTClient(
                configuration: MQTTConfiguration(
                    port: Int(broker.port), clientID: identity, caFile: broker.caFile,
                    certificateFile: broker.certificate(for: identity), keyFile: broker.key(for: identity),
                    cleanStart: true, maximumPendingPublishes: 10_000),
                logger: logger)
        }
        let subscriber = try client("collector-1")
        let forwarder = try client("gateway")
        let senders = try publishers.map(client)
        let everyone = [subscriber, forwarder] + senders
        for connection in everyone { connection.start() }
        do {
            let rate = try await measure(subscriber: subscriber, forwarder: forwarder, senders: senders, topics: topics)
            for connection in everyone { await connection.shutdown() }
            return rate
        } catch {
            for connection in everyone { await connection.shutdown() }
            throw error
        }
    }

    private func measure(subscriber: MQTTClient, forwarder: MQTTClient, senders: [MQTTClient], topics: TopicTree)
        async throws -> Double
    {
        let everyone = [subscriber, forwarder] + senders
        for connection in everyone { try await connection.waitUntilConnected(timeout: .seconds(10)) }
        try await subscriber.subscribe(topics.allVerifiedMetrics)
        try await forwarder.subscribe(topics.allAgentMetrics)

        // The forwarder republishes what is waiting as one batch, bounded like the gateway: the bare
        // transport at its best with this client library.
        let forwarding = Task {
            await withTaskGroup(of: Int.self) { group in
                var inFlight = 0
                for await batch in forwarder.messages.batches {
                    let outgoing = batch.compactMap { message -> MQTTMessage? in
                        guard let (_, agent) = topics.parse(message.topic) else { return nil }
                        return MQTTMessage(topic: topics.verifiedMetrics(agent), payload: message.payload)
                    }
                    while inFlight >= 512, let published = await group.next() { inFlight -= published }
                    inFlight += outgoing.count
                    group.addTask {
                        _ = try? await forwarder.publish(contentsOf: outgoing)
                        return outgoing.count
                    }
                }
            }
        }
        defer { forwarding.cancel() }

        let perPublisher = max(1, count / max(1, senders.count))
        let total = perPublisher * senders.count
        let payload = Data(repeating: 0x61, count: max(1, size))
        let clock = ContinuousClock()
        let start = clock.now
        async let received: Int = {
            var seen = 0
            for await batch in subscriber.messages.batches {
                seen += batch.count
                if seen >= total { break }
            }
            return seen
        }()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, sender) in zip(publishers, senders) {
                let message = MQTTMessage(topic: topics.agentMetrics(name), payload: payload)
                for lane in 0..<max(1, inFlightPerPublisher) {
                    group.addTask {
                        for _ in stride(from: lane, to: perPublisher, by: max(1, inFlightPerPublisher)) {
                            try await sender.publish(message)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        guard await received == total else { throw BenchmarkError("the two-hop transport lost messages") }
        return Double(total) / seconds(clock.now - start)
    }
}

/// One simulated agent: its own certificate and connection, real nonces, pre-signed envelopes.
actor LoadGenerator {
    let name: String
    private let client: MQTTClient
    private let signer: SoftwareBenchmarkSigner
    private let topics = TopicTree()
    private var firstSize = 0
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
                if let receipt = Receipt(parsing: message.payload) {
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

    var envelopeSize: Int { firstSize }

    /// Fetches `count` real nonces and signs an envelope with each.
    func prepare(envelopes count: Int) async throws -> [(nonce: String, payload: Data)] {
        var prepared: [(nonce: String, payload: Data)] = []
        for _ in 0..<count {
            prepared.append(try await BenchmarkClaims.signedEnvelope(agent: name, client: client, signer: signer, topics: topics))
        }
        if firstSize == 0 { firstSize = prepared.first?.payload.count ?? 0 }
        return prepared
    }

    /// Publishes `envelopes`, at most `inFlight` awaiting their receipts, and returns each one's time
    /// from publish to receipt.
    nonisolated func send(_ envelopes: [(nonce: String, payload: Data)], inFlight: Int) async throws -> [Duration] {
        let topic = topics.agentMetrics(name)
        let (client, receipts) = (client, receipts)
        return try await receipts.watching {
            try await withThrowingTaskGroup(of: Duration.self) { group in
                var latencies: [Duration] = []
                for (index, envelope) in envelopes.enumerated() {
                    if index >= inFlight, let latency = try await group.next() { latencies.append(latency) }
                    group.addTask { try await Self.deliver(envelope, on: topic, client: client, receipts: receipts) }
                }
                for try await latency in group { latencies.append(latency) }
                return latencies
            }
        }
    }

    /// Publishes `envelopes` one every `interval` (the first after `offset`), whatever is still
    /// awaiting a receipt, and returns each one's time from publish to receipt.
    nonisolated func send(
        _ envelopes: [(nonce: String, payload: Data)], every interval: Duration, after offset: Duration
    ) async throws -> [Duration] {
        let topic = topics.agentMetrics(name)
        let (client, receipts) = (client, receipts)
        let clock = ContinuousClock()
        let start = clock.now + offset
        return try await receipts.watching {
            try await withThrowingTaskGroup(of: Duration.self) { group in
                for (index, envelope) in envelopes.enumerated() {
                    try await clock.sleep(until: start + interval * Double(index))
                    group.addTask { try await Self.deliver(envelope, on: topic, client: client, receipts: receipts) }
                }
                var latencies: [Duration] = []
                for try await latency in group { latencies.append(latency) }
                return latencies
            }
        }
    }

    /// Sends until `deadline` with `lanes` envelopes under way at once, each made as an agent makes it
    /// (a fresh nonce from the collectors, sign, publish, wait for the receipt) and started when
    /// `pacer` allows. Returns how many were receipted.
    nonisolated func sendSteadily(
        lanes: Int, pacer: Pacer, until deadline: ContinuousClock.Instant
    ) async throws -> Int {
        let topic = topics.agentMetrics(name)
        let (client, receipts, signer, name, topics) = (client, receipts, signer, name, topics)
        return try await receipts.watching {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<max(1, lanes) {
                    group.addTask {
                        var receipted = 0
                        while try await pacer.wait(before: deadline) {
                            let envelope = try await BenchmarkClaims.signedEnvelope(
                                agent: name, client: client, signer: signer, topics: topics)
                            _ = try await Self.deliver(envelope, on: topic, client: client, receipts: receipts)
                            receipted += 1
                        }
                        return receipted
                    }
                }
                return try await group.reduce(0, +)
            }
        }
    }

    /// One envelope: publish, then wait for its receipt. The load generator shares the machine with
    /// the path it measures, so it keeps to one task and two waits per envelope.
    private static func deliver(
        _ envelope: (nonce: String, payload: Data), on topic: String, client: MQTTClient, receipts: ReceiptBoard
    ) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try await client.publish(MQTTMessage(topic: topic, payload: envelope.payload))
        try await receipts.wait(for: envelope.nonce, deadline: start + ReceiptBoard.timeout)
        return clock.now - start
    }

    func shutdown() async {
        await client.shutdown()
    }
}

/// Hands out start times `1 / rate` apart to any number of senders; one that is behind starts at once.
final class Pacer: Sendable {
    private let interval: Duration
    private let nextStart: Mutex<ContinuousClock.Instant>

    init(rate: Double) {
        interval = .seconds(1 / max(rate, 0.001))
        nextStart = Mutex(ContinuousClock.now)
    }

    /// Waits for the next start time and takes it; false when that is not before `deadline`.
    func wait(before deadline: ContinuousClock.Instant) async throws -> Bool {
        let now = ContinuousClock.now
        let start = nextStart.withLock { next in
            let start = max(next, now)
            next = start + interval
            return start
        }
        guard start < deadline else { return false }
        if start > now { try await Task.sleep(until: start, clock: .continuous) }
        return true
    }
}

/// Matches receipts (and rejections) to the envelopes waiting for them, by nonce.
final class ReceiptBoard: Sendable {
    private struct Waiting {
        var continuation: CheckedContinuation<Void, any Error>
        var deadline: ContinuousClock.Instant
    }

    private struct State {
        var waiting: [String: Waiting] = [:]
        /// Outcomes that arrived before their envelope waited for them: nil for a receipt, else the reason.
        var early: [String: String?] = [:]
    }

    private let state = Mutex(State())

    /// How long an envelope waits for its receipt.
    static let timeout: Duration = .seconds(30)

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// Returns when the receipt for `nonce` arrives; throws on a rejection, on cancellation, or when
    /// ``watching(_:)`` finds `deadline` passed.
    func wait(for nonce: String, deadline: ContinuousClock.Instant) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let early = state.withLock { state -> String?? in
                    if let outcome = state.early.removeValue(forKey: nonce) { return .some(outcome) }
                    state.waiting[nonce] = Waiting(continuation: continuation, deadline: deadline)
                    return .none
                }
                switch early {
                case .none: break
                case .some(nil): continuation.resume()
                case .some(.some(let reason)):
                    continuation.resume(throwing: Refused(description: "rejected: \(reason)"))
                }
            }
        } onCancel: {
            state.withLock { $0.waiting.removeValue(forKey: nonce) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Runs `body` while failing, once a second, the envelopes whose receipt is overdue: one timer for
    /// all of them instead of one per envelope.
    func watching<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(1))
                    self.failOverdue(now: .now)
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    private func failOverdue(now: ContinuousClock.Instant) {
        let overdue = state.withLock { state -> [Waiting] in
            let nonces = state.waiting.filter { $0.value.deadline <= now }.keys
            return nonces.compactMap { state.waiting.removeValue(forKey: $0) }
        }
        for waiting in overdue {
            waiting.continuation.resume(throwing: Refused(description: "no receipt within \(Self.timeout)"))
        }
    }

    func arrived(_ nonce: String) {
        settle(nonce, reason: nil)
    }

    func failed(_ nonce: String, _ reason: String) {
        settle(nonce, reason: reason)
    }

    private func settle(_ nonce: String, reason: String?) {
        let waiting = state.withLock { state in
            let waiting = state.waiting.removeValue(forKey: nonce)
            if waiting == nil { state.early[nonce] = .some(reason) }
            return waiting
        }
        if let reason {
            waiting?.continuation.resume(throwing: Refused(description: "rejected: \(reason)"))
        } else {
            waiting?.continuation.resume()
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

/// A duration in seconds, for rates.
public func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func milliseconds(_ duration: Duration) -> Double {
    seconds(duration) * 1000
}
