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

/// The gateway service: a bridge between the agents' ingress topics and the collectors' verified
/// topics.
///
/// It subscribes to `{prefix}/agents/+/nonce/request` and `{prefix}/agents/+/metrics` and, in the
/// mode of its configuration, either republishes everything unchanged (``GatewayMode/passthrough``)
/// or checks it first (``GatewayMode/enforce``): a rejected message goes nowhere but to the agent's
/// `rejections` topic (aligned error, `rejected_by: gateway`) and to `events/gateway/{id}` as a
/// trust event. A retained status on `status/gateway/{id}` says online (with counters) while the
/// gateway runs and offline after it stopped, by its last will if it did not stop cleanly.
///
/// The gateway talks to the broker through the transport it is given; ``compose(configuration:metrics:logger:)``
/// makes its client, the gateway and its ``allowlistWatcher`` in the order a `ServiceGroup` runs them.
/// `run()` works until graceful shutdown (or cancellation), drains publishes in flight and publishes
/// the offline status. In enforce mode the allowlist file is reloaded when it changes
/// and on SIGHUP; a file that does not load leaves the previous allowlist in force.
public final class Gateway: Service {
    public let configuration: GatewayConfiguration
    let logger: Logger
    /// The broker of `broker:`: the agents' broker (with ``upstream``, the site's).
    let client: any MQTTTransport
    /// The upstream broker of a site bridge, where the collectors are; nil on one broker.
    let upstream: (any MQTTTransport)?
    /// The durable queues of a site bridge; nil on one broker.
    let relay: SiteRelay?
    let topics: TopicTree
    let inspector: MessageInspector
    /// The allowlist in force and its reloading (enforce mode); nil in passthrough mode.
    public let allowlistWatcher: AllowlistWatcher?
    let metrics: ServiceMetrics
    let counted: Counted
    /// When this gateway was created; `since` of its status.
    let startedAt: Date
    /// Set once the agents' subscriptions are acknowledged (renewed by the client on every reconnect).
    let subscribed = Atomic<Bool>(false)

    /// The counters every message touches, made once.
    struct Counted: Sendable {
        let received, forwarded, dropped, rejected, publishFailed: Counter

        init(_ metrics: ServiceMetrics) {
            received = metrics.counter("received")
            forwarded = metrics.counter("forwarded")
            dropped = metrics.counter("dropped")
            rejected = metrics.counter("rejected")
            publishFailed = metrics.counter("publish_failed")
        }
    }

    /// Messages published and waiting for their PUBACK at once; more messages wait for room.
    static let maximumPublishesInFlight = 512
    /// How long the final offline status may take to reach the broker.
    static let shutdownPublishTimeout: Duration = .seconds(3)
    static let component = "gateway"

    /// Checks the configuration and loads the allowlist (enforce mode); nothing is published before
    /// ``run()``. Throws a ``ConfigurationError`` for an unusable configuration, a ``StorageError`` for an
    /// unusable allowlist. Counters are made with `metrics` (see ``counters``).
    ///
    /// With `upstream:` in the configuration, `upstream` is the connection to that broker and the relay
    /// directory's queues are opened (a ``StorageError`` if they cannot be).
    public init(
        configuration: GatewayConfiguration, transport: any MQTTTransport, upstream: (any MQTTTransport)? = nil,
        metrics: ServiceMetrics = ServiceMetrics(), logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.client = transport
        self.topics = configuration.topics
        if let settings = configuration.upstream {
            guard let upstream else {
                throw ConfigurationError(key: "upstream", problem: "the gateway was given no connection to the upstream broker")
            }
            self.upstream = upstream
            let logger = logger
            self.relay = try SiteRelay(
                settings: configuration.relay, site: configuration.topics,
                upstream: TopicTree(prefix: settings.topicPrefix)
            ) { direction, reason, count in
                metrics.count("relay.\(direction).dropped.\(reason)", by: count)
                // A message whose own expiry passed is routine after an outage (a nonce request nobody
                // waits for); counted and in the status, logged only at debug.
                logger.log(
                    level: reason == "expired" ? .debug : .warning,
                    "relay dropped messages",
                    metadata: ["direction": "\(direction)", "reason": "\(reason)", "count": "\(count)"])
            }
        } else {
            self.upstream = nil
            self.relay = nil
        }
        self.inspector = MessageInspector(configuration: configuration)
        self.metrics = metrics
        self.counted = Counted(metrics)
        self.startedAt = Date()
        if configuration.mode == .enforce, let path = configuration.allowlistFile {
            allowlistWatcher = try AllowlistWatcher(
                file: AllowlistFile(path: path),
                pollInterval: configuration.allowlistPollInterval,
                metrics: metrics, logger: logger)
        } else {
            allowlistWatcher = nil
        }
    }

    /// The gateway ready to run: its MQTT client, the gateway on it, and its allowlist watcher (enforce
    /// mode), for the executable's `ServiceGroup` or an in-process run (demo, bench, tests).
    public static func compose(
        configuration: GatewayConfiguration, metrics: ServiceMetrics = ServiceMetrics(component: "gateway"),
        logger: Logger
    ) throws -> ComposedService<Gateway> {
        try configuration.validate()
        guard let upstreamSettings = configuration.upstream else {
            let client = try makeClient(configuration: configuration, broker: configuration.broker, logger: logger)
            metrics.watch(client)
            let gateway = try Gateway(configuration: configuration, transport: client, metrics: metrics, logger: logger)
            return ComposedService(client: client, component: gateway, helpers: try gateway.helpers())
        }
        // A site bridge: the status and its will live upstream, where operators watch.
        let site = try MQTTClient(
            configuration: configuration.broker.clientConfiguration(clientID: configuration.id), logger: logger)
        let upstream = try makeClient(configuration: configuration, broker: upstreamSettings, logger: logger)
        metrics.watch(site)
        metrics.watch(upstream)
        let gateway = try Gateway(
            configuration: configuration, transport: site, upstream: upstream, metrics: metrics, logger: logger)
        return ComposedService(
            client: site, additionalClients: [upstream], component: gateway, helpers: try gateway.helpers())
    }

    /// The allowlist watcher (enforce mode) and the operations endpoint (when configured).
    func helpers() throws -> [any Service] {
        var helpers: [any Service] = allowlistWatcher.map { [$0] } ?? []
        if let settings = configuration.metricsEndpoint {
            helpers.append(
                try OperationsEndpoint(
                    settings: settings, metrics: metrics,
                    readiness: { [weak self] in self?.readiness ?? .notReady("stopped") }, logger: logger))
        }
        return helpers
    }

    /// Ready when connected (a site bridge: to both brokers) and subscribed to the agents; the allowlist
    /// (enforce mode) is loaded before the gateway exists.
    public var readiness: Readiness {
        .first([
            (client.isConnected, "not connected to the broker"),
            (upstream?.isConnected ?? true, "not connected to the upstream broker"),
            (subscribed.load(ordering: .relaxed), "subscriptions not acknowledged yet"),
        ])
    }

    /// The gateway's MQTT client on `broker`: its id, certificates, and its offline status as the last will.
    static func makeClient(configuration: GatewayConfiguration, broker: BrokerSettings, logger: Logger) throws
        -> MQTTClient
    {
        let will = MQTTMessage(
            topic: TopicTree(prefix: broker.topicPrefix).status(component: component, id: configuration.id),
            payload: encode(
                ComponentStatus(
                    component: component, id: configuration.id, state: .offline,
                    since: Timestamp.string(from: Date()))),
            qos: .atLeastOnce, retain: true)
        return try MQTTClient(
            configuration: broker.clientConfiguration(clientID: configuration.id, will: will), logger: logger)
    }

    /// Where the gateway's status and events go: upstream for a site bridge.
    var statusTransport: any MQTTTransport { upstream ?? client }
    var statusTopics: TopicTree { relay?.upstream ?? topics }

    /// Counters since start: `received`, `forwarded`, `rejected`, `rejected.<reason>`, `dropped`,
    /// `publish_failed`, `allowlist_reloads`, `allowlist_reload_failures` (counters still at 0 left out).
    public var counters: [String: Int] {
        metrics.snapshot
    }

    /// The allowlist in force (empty in passthrough mode).
    public var allowlist: Allowlist {
        allowlistWatcher?.allowlist ?? Allowlist()
    }

    /// Reloads the allowlist file now (as on SIGHUP); returns whether the new list was taken. Does
    /// nothing in passthrough mode.
    @discardableResult
    public func reloadAllowlist() async -> Bool {
        await allowlistWatcher?.reload(trigger: .hangup) ?? false
    }

    public func run() async throws {
        logger.info(
            "gateway starting",
            metadata: [
                "id": "\(configuration.id)", "mode": "\(configuration.mode)",
                "broker": "\(configuration.broker.host):\(configuration.broker.port)",
                "upstream": "\(configuration.upstream.map { "\($0.host):\($0.port)" } ?? "none")",
                "prefix": "\(topics.prefix)", "agents": "\(allowlist.count)",
            ])
        if let relay, let upstream {
            await runRelay(relay, upstream: upstream)
            logger.info("gateway stopping", metadata: ["counters": "\(counters)"])
            await publishFinalStatus()
            return
        }
        // Registered before the client starts, the subscriptions go out with the first connection,
        // before anything waiting for the connection (the online status among them) proceeds.
        await subscribe()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.publishStatusPeriodically() }
            if let watcher = allowlistWatcher {
                group.addTask { await self.publishAllowlistEvents(watcher) }
            }
            await processMessages()
            group.cancelAll()
        }
        logger.info("gateway stopping", metadata: ["counters": "\(counters)"])
        await publishFinalStatus()
    }

    /// Publishes the watcher's reload events until cancelled.
    func publishAllowlistEvents(_ watcher: AllowlistWatcher) async {
        for await event in watcher.events {
            guard !Task.isCancelled else { return }
            await publishEvent(kind: event.kind, details: event.details)
        }
    }

    // MARK: - Messages

    func subscribe() async {
        for filter in [topics.allAgentNonceRequests, topics.allAgentMetrics] {
            do {
                try await client.subscribe(filter)
            } catch is CancellationError {
                return
            } catch {
                logger.error("cannot subscribe", metadata: ["filter": "\(filter)", "error": "\(error)"])
                return
            }
        }
        subscribed.store(true, ordering: .relaxed)
    }

    /// Consumes the inbound messages until graceful shutdown or cancellation, a batch of everything
    /// that arrived at a time. Decisions are made in order, on this task; each batch's messages are
    /// then published together and concurrently with the next batch (bounded), so one slow PUBACK does
    /// not hold up the next message. Publishes in flight are awaited before returning.
    ///
    /// One wake-up and one publish per batch rather than per message: under load, the hand-offs between
    /// libmosquitto's thread and tasks, not the checks, limited the gateway.
    private func processMessages() async {
        await withTaskGroup(of: Int.self) { publishes in
            var inFlight = 0
            for await batch in client.messages.batches.cancelOnGracefulShutdown() {
                let outgoing = batch.flatMap { handle($0, now: Date()) }
                guard !outgoing.isEmpty else { continue }
                while inFlight >= Self.maximumPublishesInFlight, let published = await publishes.next() {
                    inFlight -= published
                }
                publishes.addTask {
                    await self.send(outgoing)
                    return outgoing.count
                }
                inFlight += outgoing.count
            }
        }
    }

    /// A message to publish and what it stands for (so that success can be counted).
    struct Outgoing: Sendable {
        enum Purpose: Sendable { case forward, rejection, event }
        var message: MQTTMessage
        var purpose: Purpose
    }

    /// Decides about one inbound message and returns what to publish. Never throws; counts.
    func handle(_ message: MQTTMessage, now: Date) -> [Outgoing] {
        counted.received.increment()
        let allowlist = self.allowlist
        switch inspector.inspect(message, allowlist: allowlist, now: now) {
        case .forward(let forwarded):
            logger.debug("forwarding", metadata: ["from": "\(message.topic)", "to": "\(forwarded.topic)"])
            return [Outgoing(message: forwarded, purpose: .forward)]
        case .drop(let why):
            counted.dropped.increment()
            logger.notice("dropped message", metadata: ["topic": "\(message.topic.prefix(200))", "why": "\(why)"])
            return []
        case .reject(let rejection, let agent, let correlationData):
            let reason = rejection.reasonCode ?? "unknown"
            counted.rejected.increment()
            metrics.counter("rejected", reason: reason).increment()
            logger.info(
                "rejected",
                metadata: [
                    "agent": "\(agent)", "topic": "\(message.topic)", "reason": "\(reason)",
                    "error": "\(rejection.error)",
                ])
            let toAgent = MQTTMessage(
                topic: topics.agentRejections(agent), payload: Self.encode(rejection), qos: .atLeastOnce, retain: false,
                properties: MQTTProperties(correlationData: correlationData))
            let event = TrustEvent(
                timestamp: rejection.timestamp, component: Self.component, id: configuration.id, kind: "rejection",
                agentName: agent, rejection: rejection, details: ["topic": .string(message.topic)])
            return [
                Outgoing(message: toAgent, purpose: .rejection),
                Outgoing(message: eventMessage(event), purpose: .event),
            ]
        }
    }

    private func send(_ outgoing: Outgoing) async {
        await send([outgoing])
    }

    /// Publishes the messages together and counts what was forwarded and what failed.
    private func send(_ outgoing: [Outgoing]) async {
        let failures: [(any Error)?]
        do {
            failures = try await client.publish(contentsOf: outgoing.map(\.message))
        } catch {
            failures = Array(repeating: error, count: outgoing.count)
        }
        var (forwarded, failed) = (0, 0)
        for (message, failure) in zip(outgoing, failures) {
            guard let failure else {
                if message.purpose == .forward { forwarded += 1 }
                continue
            }
            failed += 1
            let stopping = failure is CancellationError || (failure as? MQTTError) == .shutDown
            let level: Logger.Level = stopping ? .debug : .warning
            logger.log(
                level: level, "publish failed", metadata: ["topic": "\(message.message.topic)", "error": "\(failure)"])
        }
        if forwarded > 0 { counted.forwarded.increment(by: forwarded) }
        if failed > 0 { counted.publishFailed.increment(by: failed) }
    }

    // MARK: - Status and events

    func publishStatusPeriodically() async {
        while !Task.isCancelled {
            do {
                // Also repairs the status after a reconnect, when the broker may have sent the will.
                try await statusTransport.publish(statusMessage(.online, relay: await relayStatus()))
                try await Task.sleep(for: configuration.statusInterval)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("cannot publish status", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    func statusMessage(_ state: ComponentStatus.State, relay: RelayStatus? = nil) -> MQTTMessage {
        let status = ComponentStatus(
            component: Self.component, id: configuration.id, state: state,
            since: Timestamp.string(from: state == .online ? startedAt : Date()), counters: counters, relay: relay)
        return MQTTMessage(
            topic: statusTopics.status(component: Self.component, id: configuration.id), payload: Self.encode(status),
            qos: .atLeastOnce, retain: true)
    }

    /// The site bridge's links and queues (as in its status); nil on one broker.
    public func relayStatus() async -> RelayStatus? {
        guard let relay, let upstream else { return nil }
        return await relay.status(siteConnected: client.isConnected, upstreamConnected: upstream.isConnected)
    }

    /// An event on the gateway's own tree (the site's; a site bridge retargets it upstream).
    func eventMessage(_ event: TrustEvent) -> MQTTMessage {
        MQTTMessage(
            topic: topics.events(component: Self.component, id: configuration.id), payload: Self.encode(event),
            qos: .atLeastOnce, retain: false)
    }

    func publishEvent(kind: String, details: [String: JSONValue]) async {
        let event = TrustEvent(
            timestamp: Timestamp.string(from: Date()), component: Self.component, id: configuration.id, kind: kind,
            details: details)
        if let relay {
            await store([upward(eventMessage(event), relay)], in: relay.up, direction: "up")
            return
        }
        await send(Outgoing(message: eventMessage(event), purpose: .event))
    }

    /// Publishes the offline status outside the current task's cancellation (it is stopping), giving
    /// up after ``shutdownPublishTimeout``.
    private func publishFinalStatus() async {
        let (client, message) = (statusTransport, statusMessage(.offline, relay: await relayStatus()))
        let publish = Task {
            try await withTimeout(Self.shutdownPublishTimeout, "publish the final status") {
                try await client.publish(message)
            }
        }
        if case .failure(let error) = await publish.result {
            logger.warning("cannot publish final status", metadata: ["error": "\(error)"])
        }
    }

    static func encode(_ value: some Encodable) -> Data {
        // The wire types encode plain strings, numbers and containers only.
        (try? WireJSON.encode(value)) ?? Data("{}".utf8)
    }
}
