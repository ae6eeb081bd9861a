import EdgeProofCore
import EdgeProofMQTT
import EdgeProofOperations
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The collector service: issues nonces, verifies every envelope the gateway republishes (allowlist,
/// key hash, signature, nonce, geography, single use), writes accepted ones durably to rotating
/// JSON Lines files, and only then sends the agent a receipt. Every rejection goes to the agent, to
/// the events topic and file, and into the status counters.
///
/// The collector talks to the broker through the transport it is given;
/// ``compose(configuration:metrics:logger:)`` makes its client, the collector and its ``allowlistWatcher``
/// in the order a `ServiceGroup` runs them. ``run()`` subscribes, handles messages until graceful
/// shutdown, drains what is in flight and publishes its offline status.
public final class Collector: Service, Sendable {
    public let configuration: CollectorConfiguration
    let logger: Logger
    let topics: TopicTree
    let nonceAuthority: NonceAuthority
    let replayCache: ReplayCache
    /// Checks and stores envelopes, a batch at a time.
    let store: EnvelopeStore
    /// Accepted records, with group commit: a receipt waits for its batch's fsync.
    let records: GroupCommitLog
    /// Envelopes received and not yet taken by a worker, and the number of workers.
    let envelopeQueue = Mutex<EnvelopeQueue>(EnvelopeQueue())
    /// Trust events, written in order without holding anyone up.
    let events: GroupCommitLog
    /// The accepted envelopes as OTLP JSON Lines (`otlp:`), group-committed beside the records; nil: none.
    let otlp: GroupCommitLog?
    let client: any MQTTTransport
    /// The allowlist in force, reloaded when its file changes and on SIGHUP.
    public let allowlistWatcher: AllowlistWatcher
    /// The status counters (swift-metrics).
    let metrics: ServiceMetrics
    /// Why the last durable write failed, until one succeeds again.
    let storageProblem = Mutex<String?>(nil)
    /// Set once the subscriptions are acknowledged (the client renews them on every reconnect).
    let subscribed = Atomic<Bool>(false)
    /// How long answering a nonce request takes, from its arrival to the answer handed to the broker.
    let nonceIssueDuration: Metrics.Timer
    let startedAt = Date()

    /// At most this many nonce requests (besides the envelope workers, one per core) are handled at
    /// once; each holds its slot until its response's PUBACK, mostly waiting, so the bound is about
    /// memory, not cores. Envelopes wait in the queue, bounded by ``maximumQueuedEnvelopes``.
    static let maximumConcurrentMessages = 256
    /// How long shutdown waits for in-flight messages and the offline status.
    static let drainTimeout: Duration = .seconds(10)

    struct EnvelopeQueue {
        var items: [EnvelopeStore.Item] = []
        var workers = 0
    }

    /// Workers checking envelopes at once: one per core.
    static let maximumEnvelopeWorkers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Envelopes queued before the message loop stops taking more until the workers catch up.
    static let maximumQueuedEnvelopes = 2048

    /// Loads the allowlist and the nonce keys, opens the records and events files (closing files a
    /// crash left open) and rebuilds the replay cache from the recent records. Fails with a message
    /// naming the file and problem. Counters are made with `metrics` (see ``counters``).
    public init(
        configuration: CollectorConfiguration, transport: any MQTTTransport, metrics: ServiceMetrics = ServiceMetrics(),
        logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.topics = TopicTree(prefix: configuration.broker.topicPrefix)
        self.client = transport
        self.metrics = metrics
        nonceIssueDuration = Metrics.Timer(label: "nonce_issue_duration", factory: metrics)

        do {
            allowlistWatcher = try AllowlistWatcher(
                file: AllowlistFile(path: configuration.allowlistFile),
                pollInterval: configuration.allowlistPollInterval,
                metrics: metrics, logger: logger)
        } catch {
            throw CollectorError("cannot start: \(error)")
        }

        let keyring: NonceKeyring
        do {
            keyring = try NonceKeyFile(path: configuration.nonceKeyFile).load()
        } catch {
            throw CollectorError("cannot start: \(error)")
        }
        nonceAuthority = NonceAuthority(keyring: keyring, lifetime: configuration.nonceLifetime)

        do {
            var recordLimits = configuration.records.limits
            recordLimits.keepRecent = Self.replayWindow(configuration)
            let fsyncDuration = Metrics.Timer(label: "records_fsync_duration", factory: metrics)
            let bytesWritten = FloatingPointCounter(label: "records_bytes", factory: metrics)
            records = GroupCommitLog(
                file: try RotatingJSONLinesFile(
                    directory: URL(fileURLWithPath: configuration.records.directory), prefix: "records",
                    limits: recordLimits),
                onBatchWritten: { bytes, duration in
                    fsyncDuration.record(duration)
                    bytesWritten.increment(by: Double(bytes))
                })
            otlp = try configuration.otlp.map { settings in
                GroupCommitLog(
                    file: try RotatingJSONLinesFile(
                        directory: URL(fileURLWithPath: settings.directory), prefix: "metrics", limits: settings.limits))
            }
            let writeFailures = metrics.counter("events", reason: "write_failed")
            events = GroupCommitLog(
                file: try RotatingJSONLinesFile(
                    directory: URL(fileURLWithPath: configuration.resolvedEventsDirectory), prefix: "events",
                    limits: configuration.records.limits)
            ) { error in
                writeFailures.increment()
                logger.error("cannot write to the events file", metadata: ["error": "\(error)"])
            }
        } catch {
            throw CollectorError("cannot start: \(error)")
        }
        replayCache = ReplayCache()
        store = EnvelopeStore(
            intake: EnvelopeIntake(
                collectorID: configuration.id, nonceAuthority: nonceAuthority, replayCache: replayCache,
                maximumEnvelopeBytes: configuration.maximumEnvelopeBytes,
                maximumClockSkew: configuration.maximumClockSkew, trustRequirement: configuration.trustRequirement,
                writesOTLP: otlp != nil),
            records: records, otlp: otlp)
        try rememberRecordedNonces()
    }

    /// The collector ready to run: its MQTT client, the collector on it, and its allowlist watcher, for
    /// the executable's `ServiceGroup` or an in-process run (demo, bench, tests).
    public static func compose(
        configuration: CollectorConfiguration, metrics: ServiceMetrics = ServiceMetrics(component: "collector"),
        logger: Logger
    ) throws -> ComposedService<Collector> {
        try configuration.validate()
        let clients = try configuration.brokers.map { try makeClient(configuration: configuration, broker: $0, logger: logger) }
        guard let client = clients.first else { throw CollectorError("no broker configured") }
        clients.forEach(metrics.watch)
        guard clients.count > 1 else {
            let collector = try Collector(configuration: configuration, transport: client, metrics: metrics, logger: logger)
            return ComposedService(
                client: client, component: collector,
                helpers: [collector.allowlistWatcher] + (try collector.operationsEndpoint().map { [$0] } ?? []))
        }
        // Partitioned brokers: one transport over all of them, run between the clients and the collector.
        let partitions = PartitionedTransport(links: clients, topics: TopicTree(prefix: configuration.broker.topicPrefix))
        let collector = try Collector(configuration: configuration, transport: partitions, metrics: metrics, logger: logger)
        return ComposedService(
            client: client, additionalClients: Array(clients.dropFirst()) + [partitions], component: collector,
            helpers: [collector.allowlistWatcher] + (try collector.operationsEndpoint().map { [$0] } ?? []))
    }

    /// The `/metrics`, `/healthz` and `/readyz` endpoint, when the configuration asks for one; it also
    /// shows the number of records files, read at each scrape.
    func operationsEndpoint() throws -> OperationsEndpoint? {
        guard let settings = configuration.metricsEndpoint else { return nil }
        let files = Gauge(label: "records_files", factory: metrics)
        let directory = records.file.directory
        metrics.onExposition {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            files.record(names.filter { $0.hasPrefix("records-") }.count)
        }
        return try OperationsEndpoint(
            settings: settings, metrics: metrics, readiness: { [weak self] in self?.readiness ?? .notReady("stopped") },
            logger: logger)
    }

    /// The collector's MQTT client on `broker`: its id, certificates, and its offline status as the last will.
    static func makeClient(configuration: CollectorConfiguration, broker: BrokerSettings, logger: Logger) throws
        -> MQTTClient
    {
        let will = statusMessage(.offline, configuration: configuration, since: Date(), counters: [:], problem: nil)
        return try MQTTClient(
            configuration: broker.clientConfiguration(clientID: configuration.id, will: will), logger: logger)
    }

    deinit {
        // Ends the writer threads of a collector that never ran (or whose run threw).
        try? records.close()
        try? otlp?.close()
        try? events.close()
    }

    /// Connects, subscribes to verified envelopes and nonce requests, and handles them until graceful
    /// shutdown; then drains in-flight messages, publishes the offline status, finalizes the active
    /// files and disconnects.
    public func run() async throws {
        try await client.subscribe(topics.allVerifiedMetrics)
        try await client.subscribe(nonceRequestFilter)
        subscribed.store(true, ordering: .relaxed)
        logger.info(
            "collector started",
            metadata: [
                "id": "\(configuration.id)", "records": "\(records.file.directory.path)",
                "nonce_subscription": "\(configuration.nonceSubscription.rawValue)",
                "agents": "\(currentAllowlist.count)",
            ])

        await withTaskGroup(of: Void.self) { background in
            background.addTask { await self.maintainStatus() }
            background.addTask { await self.publishAllowlistEvents() }
            background.addTask { await self.rotateIdleFiles() }
            await self.handleMessages()
            background.cancelAll()
        }

        logger.info("collector stopping", metadata: ["id": "\(configuration.id)"])
        _ = try? await withTimeout(Self.drainTimeout, "publish the final events and status") {
            await self.emit(kind: "stopping")
            await self.publish(self.statusMessage(.offline))
        }
        do {
            try records.close()
            try otlp?.close()
            try events.close()
        } catch {
            logger.error("cannot finalize the active files", metadata: ["error": "\(error)"])
        }
    }

    /// `verified/+/nonce/request`, shared among the collectors or not (see the configuration).
    var nonceRequestFilter: String {
        switch configuration.nonceSubscription {
        case .shared: "$share/collectors/\(topics.allVerifiedNonceRequests)"
        case .all: topics.allVerifiedNonceRequests
        }
    }

    var currentAllowlist: Allowlist {
        allowlistWatcher.allowlist
    }

    /// Counters since start, by flat name (`accepted`, `rejected.<reason>`, `allowlist_reloads`, …).
    public var counters: [String: Int] {
        metrics.snapshot
    }

    /// Takes messages until graceful shutdown, a batch of everything that arrived at a time (one
    /// wake-up per batch, not per message), handling up to ``maximumConcurrentMessages`` at once, then
    /// waits (bounded) for those in flight.
    ///
    /// A task group keeps every child that finished until `next()` takes it (a few KB each), so every
    /// child, nonce answer and envelope worker alike, counts in `inFlight` until taken, and a new one
    /// first takes a finished one once ``maximumConcurrentMessages`` are held. Without this, workers
    /// started one per envelope at a steady rate held memory per stored envelope (`edgeproof bench soak`
    /// shows the collector's memory over time).
    private func handleMessages() async {
        await withTaskGroup(of: Bool.self) { group in
            var inFlight = 0
            /// Takes a finished child (waiting for one if need be) while ``maximumConcurrentMessages`` are held.
            func makeRoom() async {
                if inFlight >= Self.maximumConcurrentMessages, await group.next() != nil { inFlight -= 1 }
            }
            for await batch in client.messages.batches.cancelOnGracefulShutdown() {
                var envelopes: [EnvelopeStore.Item] = []
                for message in batch {
                    guard let (kind, agent) = topics.parse(message.topic) else {
                        count("ignored.invalid_topic")
                        logger.warning(
                            "ignoring a message on a topic without a valid agent",
                            metadata: ["topic": "\(message.topic.prefix(200))"])
                        continue
                    }
                    switch kind {
                    case .verifiedMetrics:
                        envelopes.append(
                            EnvelopeStore.Item(
                                payload: message.payload, topic: message.topic, agent: agent, receivedAt: Date()))
                    case .verifiedNonceRequest:
                        await makeRoom()
                        inFlight += 1
                        group.addTask {
                            await self.answerNonceRequest(message, agent: agent)
                            return true
                        }
                    default:
                        count("ignored.unexpected_topic")
                        logger.warning(
                            "ignoring a message on an unexpected topic", metadata: ["topic": "\(message.topic)"])
                    }
                }
                guard !envelopes.isEmpty else { continue }
                for _ in 0..<enqueueEnvelopes(envelopes) {
                    await makeRoom()
                    inFlight += 1
                    group.addTask {
                        await self.runEnvelopeWorker()
                        return true
                    }
                }
                // Backpressure: the workers empty the queue before they end.
                while queuedEnvelopes >= Self.maximumQueuedEnvelopes, inFlight > 0, await group.next() != nil {
                    inFlight -= 1
                }
            }
            guard inFlight > 0 else { return }
            // Drain: the handlers finish their durable writes and answers; a watchdog bounds the wait
            // (a broker that stays away would otherwise hold shutdown forever).
            group.addTask {
                try? await Task.sleep(for: Self.drainTimeout)
                return false
            }
            while let finished = await group.next() {
                guard finished else {
                    logger.warning("shutdown: \(inFlight) messages still in flight after \(Self.drainTimeout)")
                    group.cancelAll()
                    return
                }
                inFlight -= 1
                if inFlight == 0 {
                    group.cancelAll()
                    return
                }
            }
        }
    }
}
