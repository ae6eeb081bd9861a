import EdgeProofCore
import EdgeProofMQTT
import EdgeProofOTLPReceiver
import EdgeProofOperations
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The edge agent: samples the host, signs metric envelopes with the TPM, publishes them and keeps
/// each one in a durable spool until a collector's receipt (or a definitive rejection) arrives.
///
/// Flow per envelope: a nonce through MQTT v5 request/response on `agents/{name}/nonce/request`
/// (a rejection with the request's correlation data on `agents/{name}/rejections` answers it too),
/// claims with the batch, location and nonce, a TPM signature, the spool, then a QoS 1 publish to
/// `agents/{name}/metrics` with `Workload-Geo-ID` and `Signature-Input`. Batches are spooled unsigned
/// while no nonce can be had (offline) and signed when one is available; an expired nonce, a
/// `nonce_expired` or `timestamp_skew` rejection, or `nonce_replayed` for a resent envelope make the
/// agent re-sign the batch with a fresh nonce. With `receipts_from`, an envelope stays in the spool
/// until each named collector confirmed it; a resend reaches all of them, and one that stored it
/// already answers `nonce_replayed` with `stored_at`, which counts as its receipt.
///
/// The agent never stops for good while it runs. Batches are cut to fit one envelope when they are
/// made, and a sample that cannot fit is refused when it is taken; a batch that still cannot become a
/// valid envelope is split or dropped, never retried forever ahead of the rest. While the TPM is
/// unreachable or in dictionary-attack lockout, sampling and spooling go on and signing is retried
/// with backoff. Whatever is wrong (TPM, application metrics file, refused samples) is logged when it
/// starts and ends, and the retained status says `degraded` with the reasons meanwhile.
public final class Agent: Sendable {
    public let configuration: AgentConfiguration
    let signer: any EnvelopeSigner
    let logger: Logger
    let topics: TopicTree
    let spool: EnvelopeSpool
    let board = ReplyBoard()
    private let sampler: Mutex<SystemMetrics>
    /// Samples not yet spooled as a batch.
    let builder: Mutex<BatchBuilder>
    /// How much of the claims the samples of one envelope may take.
    let budget: EnvelopeBudget
    /// The counters (swift-metrics), read back for the status and ``counters``.
    private let metrics: ServiceMetrics
    let health = AgentHealth()
    /// From a nonce request to its answer; from publishing an envelope to its receipt; one TPM signature.
    let nonceRequestDuration, receiptDuration, tpmSignDuration: Metrics.Timer
    /// Set once the subscriptions to the agent's answers are acknowledged.
    let subscribed = Atomic<Bool>(false)
    /// Set after a TPM failure: no new signature (and no nonce for one) before its `retryAt`.
    let tpmOutage = Mutex<TPMOutage?>(nil)
    /// How many nonce requests may be outstanding at once: additive increase per nonce received,
    /// halved per nonce request that timed out (AIMD). After an outage, hundreds of agents asking for
    /// `max_in_flight` nonces each would queue requests at a paced site bridge longer than their own
    /// timeout, and time out, and ask again; a window that shrinks on timeouts keeps the requests
    /// answerable.
    let nonceWindow: Mutex<Int>
    private let startedAt = Date()
    /// The receiver's position, with `location.source: gpsd`; its thread runs while the agent does.
    let gpsd: GpsdLocationReader?

    /// Re-signs per delivery attempt before the batch is left in the spool for later.
    static let maximumResigns = 3
    /// A nonce this close to its expiry is not used any more.
    static let nonceSafetyMargin: TimeInterval = 2
    /// How long a TPM failure pauses signing at most (a lockout lasts longer; it is checked again after this).
    static let maximumTPMPause: Duration = .seconds(60)

    /// Opens the spool. `signer` is the only key the agent signs with (the command line gives it a TPM key,
    /// ``TPMSigner``; nothing else is selectable there).
    public init(
        configuration: AgentConfiguration, signer: any EnvelopeSigner,
        metrics: ServiceMetrics = ServiceMetrics(component: "agent"), logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.metrics = metrics
        nonceRequestDuration = Metrics.Timer(label: "nonce_request_duration", factory: metrics)
        receiptDuration = Metrics.Timer(label: "receipt_duration", factory: metrics)
        tpmSignDuration = Metrics.Timer(label: "tpm_sign_duration", factory: metrics)
        self.signer = signer
        self.logger = logger
        self.topics = TopicTree(prefix: configuration.broker.topicPrefix)
        self.sampler = Mutex(SystemMetrics(diskPath: configuration.diskPath))
        // An entry holds the batch and its signed envelope (base64 of it): a third of the spool at most, so
        // that a full-size batch is never dropped on arrival.
        let envelopeLimit = min(configuration.maximumEnvelopeBytes, configuration.spool.maximumBytes / 3)
        switch configuration.locationSettings.source {
        case .gpsd:
            gpsd = GpsdLocationReader(
                host: configuration.locationSettings.gpsdHost, port: configuration.locationSettings.gpsdPort,
                logger: logger)
        case .configured:
            gpsd = nil
        }
        // A receiver's fix is known only at signing: the budget holds room for the largest one.
        budget = EnvelopeBudget(
            maximumEnvelopeBytes: envelopeLimit, agentName: configuration.name, publicKeyHash: signer.publicKeyHash,
            geographicRegion: configuration.location,
            geolocation: gpsd == nil ? configuration.signedGeolocation : Geolocation.largestMeasured,
            service: configuration.service)
        nonceWindow = Mutex(max(1, configuration.maximumInFlight))
        builder = Mutex(BatchBuilder(room: budget.roomForSamples, ticksPerBatch: configuration.samplesPerEnvelope))
        if envelopeLimit < configuration.maximumEnvelopeBytes {
            logger.warning(
                "envelopes are limited to a third of spool.max_bytes",
                metadata: ["limit": "\(envelopeLimit)", "max_envelope_bytes": "\(configuration.maximumEnvelopeBytes)"])
        }
        if let tpm = signer as? TPMSigner, !tpm.lockoutExempt {
            logger.warning(
                """
                the TPM signing key has no noDA: after a few unclean shutdowns (power losses) the TPM locks it out \
                (TPM_RC_LOCKOUT); replace it with `edgeproof tpm provision --replace` and update the allowlist
                """,
                metadata: ["handle": "\(tpm.handle)"])
        }
        let dropped = metrics.counter("spool_dropped")
        do {
            spool = try EnvelopeSpool(
                directory: URL(fileURLWithPath: configuration.spool.directory), limits: configuration.spool.limits
            ) { event in
                logger.warning("spool: \(event)")
                if case .dropped = event { dropped.increment() }
            }
        } catch {
            throw AgentError("cannot open the spool: \(error)")
        }
    }

    /// Counters since this agent was made: published, accepted, rejected, rejected.<reason>,
    /// resigned, spool_dropped, nonce_timeouts, receipt_timeouts, samples_refused, batches_split,
    /// batches_unsendable, tpm_failures.
    public var counters: [String: Int] { metrics.snapshot }

    /// What keeps the agent from sending right now, by area ("tpm", "application_metrics_file",
    /// "samples"), each with a sentence saying why; empty when all is well. The retained status carries
    /// the same while degraded.
    public var problems: [String: String] { health.problems }

    /// Batches in the spool.
    public func spooledCount() async -> Int { await spool.count }

    // MARK: - Running

    /// The agent as a service over `transport`, which the caller owns and runs (listed before the agent
    /// in the `ServiceGroup`, so that it stops after the agent published its offline status).
    public func service(over transport: any MQTTTransport) -> AgentService {
        AgentService(agent: self, transport: transport)
    }

    /// The agent with a client of its own, composed as `edgeproof agent` runs them: `[client, agent]`.
    public func composed() throws -> ComposedService<AgentService> {
        let client = try Self.makeClient(configuration: configuration, logger: logger)
        metrics.watch(client)
        let service = service(over: client)
        var helpers: [any Service] = []
        if let settings = configuration.metricsEndpoint {
            watchSpool()
            helpers.append(
                try OperationsEndpoint(
                    settings: settings, metrics: metrics, readiness: { service.readiness }, logger: logger))
        }
        if let settings = configuration.otlpReceiver {
            helpers.append(
                try OTLPReceiver(settings: settings, metrics: metrics, logger: logger) { [self] samples in
                    await admitApplicationSamples(samples)
                })
        }
        return ComposedService(client: client, component: service, helpers: helpers)
    }

    /// Shows the spool's depth and the age of its oldest batch, read at each scrape.
    private func watchSpool() {
        let depth = Gauge(label: "spool_envelopes", factory: metrics)
        let oldestAge = Gauge(label: "spool_oldest_age", factory: metrics)
        metrics.onExposition { [spool] in
            let (count, oldest) = await (spool.count, spool.oldestEnqueuedAt)
            depth.record(count)
            let age = oldest.flatMap(Timestamp.date(from:)).map { max(0, Date().timeIntervalSince($0)) } ?? 0
            oldestAge.record(age)
        }
    }

    /// Samples every `sample_interval_s`, spools a batch every `samples_per_envelope` samples, and
    /// sends spooled batches whenever the broker is reachable, until graceful shutdown. On shutdown
    /// a partial batch is spooled too and the offline status published; `transport` stays up.
    public func run(over transport: any MQTTTransport) async throws {
        gpsd?.start()
        defer { gpsd?.stop() }
        try await startSession(transport)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.dispatch(transport) }
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { loops in
                    loops.addTask { await self.sampleLoop() }
                    // Where the signer signs cheapest (the TPM's own thread), see EnvelopeSigner.signingLoop.
                    loops.addTask {
                        // With `enroll: auto`, nothing is sent before a registrar approved this start's evidence.
                        guard await self.enrollUntilApproved(transport) else { return }
                        await self.signer.signingLoop { await self.sendLoop(transport) }
                    }
                }
            }
            await self.spoolCollected()
            if transport.isConnected { await self.publishStatus(transport, offline: true) }
            // The dispatcher waits on the transport's messages; the agent is done with them.
            group.cancelAll()
        }
    }

    /// One sample, one envelope, as `edgeproof agent --once` does: a command, not a service, so it opens a
    /// client of its own for the one exchange. Spools the sample, sends what the spool holds (older batches
    /// first) and waits for the answer to the new one.
    public func runOnce() async throws -> AgentOutcome {
        let client = try Self.makeClient(configuration: configuration, logger: logger)
        gpsd?.start()
        defer { gpsd?.stop() }
        await awaitFirstFix(within: .seconds(5))
        client.start()
        try await startSession(client)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.dispatch(client) }
            let outcome: AgentOutcome
            do {
                outcome = try await self.signer.signingLoop { () async throws -> AgentOutcome in
                    try await self.sendOnce(client)
                }
            } catch {
                await self.endSession(client)
                throw error
            }
            // Ends the message stream, and with it the dispatcher.
            await self.endSession(client)
            return outcome
        }
    }

    // MARK: - Session

    /// The agent's MQTT client, with its last will: the retained status says offline if the agent goes
    /// without saying so. Nothing connects before the client runs.
    public static func makeClient(configuration: AgentConfiguration, logger: Logger) throws -> MQTTClient {
        let topics = TopicTree(prefix: configuration.broker.topicPrefix)
        let offline = ComponentStatus(
            component: "agent", id: configuration.name, state: .offline, since: Timestamp.string(from: Date()),
            version: configuration.service.version)
        let will = MQTTMessage(
            topic: topics.status(component: "agent", id: configuration.name),
            payload: (try? WireJSON.encode(offline)) ?? Data(), qos: .atLeastOnce, retain: true)
        let clientConfiguration = configuration.broker.clientConfiguration(clientID: configuration.name, will: will)
        do {
            return try MQTTClient(configuration: clientConfiguration, logger: logger)
        } catch {
            throw AgentError("cannot set up the MQTT client: \(error)")
        }
    }

    /// Subscribes (subscriptions made offline are sent on connection).
    private func startSession(_ client: any MQTTTransport) async throws {
        for topic in [
            topics.agentReceipts(configuration.name), topics.agentRejections(configuration.name),
            topics.agentNonceResponse(configuration.name),
        ] {
            try await client.subscribe(topic)
        }
        subscribed.store(true, ordering: .relaxed)
    }

    private func endSession(_ client: MQTTClient) async {
        if client.isConnected { await publishStatus(client, offline: true) }
        await client.shutdown()
    }

    /// Publishes the retained status: online, degraded with the current problems, or offline.
    func publishStatus(_ client: any MQTTTransport, offline: Bool = false) async {
        let state: ComponentStatus.State = offline ? .offline : health.summary == nil ? .online : .degraded
        let message = MQTTMessage(
            topic: topics.status(component: "agent", id: configuration.name),
            payload: statusPayload(state, since: state == .offline ? startedAt : Date()), qos: .atLeastOnce,
            retain: true)
        do {
            try await withTimeout(.seconds(5)) { try await client.publish(message) }
        } catch {
            logger.debug("cannot publish status", metadata: ["error": "\(error)"])
        }
    }

    private func statusPayload(_ state: ComponentStatus.State, since: Date) -> Data {
        let status = ComponentStatus(
            component: "agent", id: configuration.name, state: state, since: Timestamp.string(from: since),
            version: configuration.service.version, counters: state == .online ? nil : counters,
            problem: state == .degraded ? health.summary : nil)
        return (try? WireJSON.encode(status)) ?? Data()
    }

    /// Routes receipts and rejections to the envelope waiting for them, until the client shuts down.
    private func dispatch(_ client: any MQTTTransport) async {
        for await message in client.messages {
            guard let (kind, agent) = topics.parse(message.topic), agent == configuration.name else { continue }
            switch kind {
            case .agentReceipts:
                guard let receipt = try? Receipt(strictJSON: message.payload) else {
                    logger.warning("ignoring a malformed receipt", metadata: ["topic": "\(message.topic)"])
                    continue
                }
                await take(receipt)
            case .agentRejections:
                guard let rejection = try? Rejection(strictJSON: message.payload) else {
                    logger.warning("ignoring a malformed rejection", metadata: ["topic": "\(message.topic)"])
                    continue
                }
                if message.properties.correlationData != nil {
                    // Meant for a nonce request that is no longer waiting.
                    log(rejection, context: "late answer to a nonce request")
                    continue
                }
                if let receipt = Self.storedAlready(rejection) {
                    // A collector that has this envelope already (it answered a resend).
                    await take(receipt)
                    continue
                }
                let nonce = rejection.details["nonce"]?.stringValue
                // Without a nonce (payload_too_large is refused unread) the size tells the envelopes in flight apart.
                let size: Int? = if case .number(let bytes)? = rejection.details["size"] { Int(exactly: bytes) } else { nil }
                if !board.deliver(.rejection(rejection), nonce: nonce, size: size) {
                    log(rejection, context: "rejection for no envelope in flight")
                }
            default:
                continue
            }
        }
    }

    /// Hands a receipt to the envelope in flight. A late one (its wait timed out) takes the envelope
    /// out of the spool when any one receipt is enough; with `receipts_from`, the next resend asks
    /// the collectors again and those that have it say so.
    private func take(_ receipt: Receipt) async {
        guard !board.deliver(.receipt(receipt), nonce: receipt.nonce), configuration.receiptsFrom.isEmpty else { return }
        if (try? await spool.remove(nonce: receipt.nonce)) != nil {
            logger.info("late receipt; envelope removed from the spool", metadata: ["nonce": "\(receipt.nonce)"])
        }
    }

    /// A `nonce_replayed` rejection that says the collector stored this very envelope before, as the
    /// receipt it stands for.
    static func storedAlready(_ rejection: Rejection) -> Receipt? {
        guard rejection.reasonCode == RejectionReason.nonceReplayed.code, rejection.rejectedBy == .collector,
            let nonce = rejection.details["nonce"]?.stringValue,
            let collector = rejection.details["collector"]?.stringValue,
            let storedAt = rejection.details["stored_at"]?.stringValue
        else { return nil }
        return Receipt(nonce: nonce, collector: collector, storedAt: storedAt)
    }

    // MARK: - Loops

    private func sampleLoop() async {
        let interval = seconds(configuration.sampleInterval)
        while !Task.isCancelled {
            let tick = takeSample()
            let complete = builder.withLock { $0.add(tick) }
            for samples in complete { await spoolBatch(samples) }
            try? await Task.sleep(for: interval)
        }
    }

    /// Spools what was sampled but not yet batched (at shutdown).
    private func spoolCollected() async {
        let rest = builder.withLock { $0.take() }
        if !rest.isEmpty { await spoolBatch(rest) }
    }

    private func spoolBatch(_ samples: [MetricSample]) async {
        do {
            if let entry = try await spool.enqueue(batch(samples)) {
                logger.debug("batch spooled", metadata: ["sequence": "\(entry.sequence)", "samples": "\(samples.count)"])
            }
        } catch {
            logger.error("cannot spool a batch; its samples are lost", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Sampling

    /// The application document becomes a sample's `values`, four levels down in the claims: deeper
    /// documents would make envelopes every receiver refuses (and Foundation's decoder can trap on
    /// some, see `JSONNesting`), so they are left out of the sample.
    static let maximumApplicationMetricsDepth = JSONNesting.maximumDepth - 4

    /// One tick: the system sample, plus the application sample when a metrics file is configured, each
    /// with its JSON size. A sample that cannot fit in an envelope (or that JSON cannot carry) is refused
    /// here, said and counted, rather than becoming a batch that can never be sent.
    func takeSample() -> [(sample: MetricSample, bytes: Int)] {
        let now = Timestamp.string(from: Date())
        var samples = [MetricSample(timestamp: now, metricType: "system", values: sampler.withLock { $0.sample() })]
        if let path = configuration.applicationMetricsFile {
            switch readApplicationMetrics(path) {
            case .success(let values):
                samples.append(MetricSample(timestamp: now, metricType: "application", values: values))
                if let old = health.clear("application_metrics_file") {
                    logger.notice(
                        "application_metrics_file is readable again", metadata: ["file": "\(path)", "was": "\(old)"])
                }
            case .failure(let problem):
                let text = "\(problem.description); the application sample is left out until it is fixed"
                if health.report("application_metrics_file", text) {
                    logger.error("application_metrics_file: \(text)", metadata: ["file": "\(path)"])
                }
            }
        }
        var accepted: [(sample: MetricSample, bytes: Int)] = []
        var refusals: [String] = []
        for sample in samples {
            guard let bytes = EnvelopeBudget.sampleBytes(sample) else {
                refusals.append(
                    "a \(sample.metricType) sample holds a value JSON cannot carry (not finite, or nested too deep)")
                continue
            }
            guard budget.fits(sampleOf: bytes) else {
                refusals.append(
                    "a \(sample.metricType) sample of \(bytes) bytes cannot fit in an envelope of at most"
                        + " \(budget.maximumEnvelopeBytes) bytes (room for samples: \(budget.roomForSamples))")
                continue
            }
            accepted.append((sample, bytes))
        }
        if refusals.isEmpty {
            if health.clear("samples") != nil { logger.notice("samples fit in envelopes again") }
        } else {
            count("samples_refused", by: refusals.count)
            let text = refusals.joined(separator: "; ") + "; refused (counted in samples_refused)"
            if health.report("samples", text) { logger.error("sample refused: \(text)") }
        }
        return accepted
    }

    /// Why the application metrics file gave no sample.
    struct ApplicationMetricsProblem: Error, CustomStringConvertible {
        let description: String
    }

    /// The application metrics file's members, or what is wrong with it: missing or unreadable, too large
    /// for an envelope, not JSON, not an object, nested deeper than receivers accept.
    func readApplicationMetrics(_ path: String) -> Result<[String: JSONValue], ApplicationMetricsProblem> {
        func problem(_ text: String) -> Result<[String: JSONValue], ApplicationMetricsProblem> {
            .failure(ApplicationMetricsProblem(description: text))
        }
        // The size first: a runaway file must not be read whole at every tick.
        let limit = budget.maximumEnvelopeBytes
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > limit {
            return problem("the file has \(size) bytes, more than fits in an envelope (max_envelope_bytes \(limit))")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            return problem("cannot read the file: \(error.localizedDescription)")
        }
        guard !JSONNesting.exceeds(Self.maximumApplicationMetricsDepth, in: data) else {
            return problem("the JSON nests deeper than \(Self.maximumApplicationMetricsDepth) levels")
        }
        let value: JSONValue
        do {
            // The strict reader: what the agent signs has one meaning for every receiver.
            value = try StrictJSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            return problem("not valid JSON: \(error)")
        }
        guard case .object(let members) = value else { return problem("the JSON is not an object") }
        return .success(members)
    }

    func batch(_ samples: [MetricSample]) -> EnvelopeSpool.UnsignedBatch {
        EnvelopeSpool.UnsignedBatch(
            geographicRegion: configuration.location, geolocation: configuration.signedGeolocation,
            metrics: MetricsBatch(service: configuration.service, samples: samples))
    }

    // MARK: - Location

    /// The `geolocation` to sign now: the receiver's latest fix with gpsd (a batch spooled during an outage is
    /// signed with the position at signing, whose fix time the policy checks), else the batch's configured one.
    func geolocationToSign(_ batch: EnvelopeSpool.UnsignedBatch) -> Geolocation? {
        gpsd?.geolocation ?? batch.geolocation
    }

    /// Waits until gpsd gave a fix and one more epoch passed, or `limit` passed: a one-shot run should not
    /// sign "no fix" while the receiver is a moment from answering, nor the first report after connecting,
    /// which gpsd sends before the epoch's GST (so with its HDOP-derived error, not the receiver's).
    func awaitFirstFix(within limit: Duration) async {
        guard let gpsd else { return }
        let deadline = ContinuousClock.now + limit
        while gpsd.geolocation.position == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard gpsd.geolocation.position != nil else { return }
        try? await Task.sleep(for: min(.milliseconds(1500), deadline - ContinuousClock.now))
    }

    // MARK: - Helpers

    func log(_ rejection: Rejection, context: String) {
        var metadata: Logger.Metadata = [
            "rejected_by": "\(rejection.rejectedBy.rawValue)",
            "validation_type": "\(rejection.validationType.rawValue)",
            "reason": "\(rejection.reasonCode ?? "unknown")",
            "error": "\(rejection.error)",
        ]
        for (key, value) in rejection.details where key != "reason" {
            metadata["details.\(key)"] = "\(value.stringValue ?? String(describing: value))"
        }
        logger.warning("rejection: \(context)", metadata: metadata)
    }

    /// Counts `amount` of `name` (flat: `rejected.<reason>` is `rejected` with a reason).
    func count(_ name: String, by amount: Int = 1) {
        metrics.count(name, by: amount)
    }

    func seconds(_ value: Double) -> Duration {
        .milliseconds(Int64((value * 1000).rounded()))
    }
}

/// ``Agent/run(over:)`` as a service of a `ServiceGroup`.
public struct AgentService: Service, ReadinessReporting {
    let agent: Agent
    let transport: any MQTTTransport

    public func run() async throws {
        try await agent.run(over: transport)
    }

    /// Ready when connected and subscribed to its answers, and the TPM signs (no outage pause).
    public var readiness: Readiness {
        .first([
            (transport.isConnected, "not connected to the broker"),
            (agent.subscribed.load(ordering: .relaxed), "subscriptions not acknowledged yet"),
            (agent.tpmOutage.withLock { $0 == nil }, "the TPM is failing: \(agent.problems["tpm"] ?? "signing paused")"),
        ])
    }
}
