import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging
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
public final class Agent: Service {
    public let configuration: AgentConfiguration
    private let signer: TPMSigner
    private let logger: Logger
    private let topics: TopicTree
    private let spool: EnvelopeSpool
    private let board = ReplyBoard()
    private let sampler: Mutex<SystemMetrics>
    private let collected = Mutex<[MetricSample]>([])
    private let counterValues = Counters()
    private let startedAt = Date()

    /// Re-signs per delivery attempt before the batch is left in the spool for later.
    static let maximumResigns = 3
    /// A nonce this close to its expiry is not used any more.
    static let nonceSafetyMargin: TimeInterval = 2

    /// Opens the spool. `signer` is the only key the agent signs with (a TPM key, see ``TPMSigner``).
    public init(configuration: AgentConfiguration, signer: TPMSigner, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.signer = signer
        self.logger = logger
        self.topics = TopicTree(prefix: configuration.broker.topicPrefix)
        self.sampler = Mutex(SystemMetrics(diskPath: configuration.diskPath))
        let counters = counterValues
        do {
            spool = try EnvelopeSpool(
                directory: URL(fileURLWithPath: configuration.spool.directory), limits: configuration.spool.limits
            ) { event in
                logger.warning("spool: \(event)")
                if case .dropped = event { counters.increment("spool_dropped") }
            }
        } catch {
            throw AgentError("cannot open the spool: \(error)")
        }
    }

    /// Counters since this agent was made: published, accepted, rejected, rejected.<reason>,
    /// resigned, spool_dropped, nonce_timeouts, receipt_timeouts.
    public var counters: [String: Int] { counterValues.snapshot }

    /// Batches in the spool.
    public func spooledCount() async -> Int { await spool.count }

    // MARK: - Service

    /// Samples every `sample_interval_s`, spools a batch every `samples_per_envelope` samples, and
    /// sends spooled batches whenever the broker is reachable, until graceful shutdown. On shutdown
    /// a partial batch is spooled too.
    public func run() async throws {
        let client = try makeClient()
        try await startSession(client)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.dispatch(client) }
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { loops in
                    loops.addTask { await self.sampleLoop() }
                    // On the TPM's own thread: each signature is then a call, not two thread handoffs.
                    loops.addTask(executorPreference: self.signer.taskExecutor) { await self.sendLoop(client) }
                }
            }
            await self.spoolCollected()
            await self.endSession(client)
        }
    }

    /// One sample, one envelope: spools it, sends what the spool holds (older batches first) and
    /// waits for the answer to the new one.
    public func runOnce() async throws -> AgentOutcome {
        let client = try makeClient()
        try await startSession(client)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.dispatch(client) }
            let outcome: AgentOutcome
            do {
                outcome = try await withTaskExecutorPreference(self.signer.taskExecutor) {
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

    private func sendOnce(_ client: MQTTClient) async throws -> AgentOutcome {
        let samples = takeSample()
        guard let entry = try await spool.enqueue(batch(samples)) else {
            throw AgentError("the spool is full (when_full: drop_newest) and refused the new batch")
        }
        do {
            try await client.waitUntilConnected(timeout: seconds(configuration.nonceTimeout))
        } catch {
            logger.warning("broker unreachable; the batch stays in the spool", metadata: ["error": "\(error)"])
            return .pendingInSpool
        }
        await publishStatus(.online, client)
        for older in await spool.pending() where older.sequence != entry.sequence {
            switch try await deliver(older, client) {
            case .accepted, .rejected: continue
            case .nonceRefused(let rejection): return .rejected(rejection)
            case .pending: return .pendingInSpool
            }
        }
        switch try await deliver(entry, client) {
        case .accepted(let receipt): return .accepted(receipt)
        case .rejected(let rejection), .nonceRefused(let rejection): return .rejected(rejection)
        case .pending: return .pendingInSpool
        }
    }

    // MARK: - Session

    private func makeClient() throws -> MQTTClient {
        let will = MQTTMessage(
            topic: topics.status(component: "agent", id: configuration.name),
            payload: statusPayload(.offline, since: startedAt), qos: .atLeastOnce, retain: true)
        let clientConfiguration = configuration.broker.clientConfiguration(clientID: configuration.name, will: will)
        do {
            return try MQTTClient(configuration: clientConfiguration, logger: logger)
        } catch {
            throw AgentError("cannot set up the MQTT client: \(error)")
        }
    }

    /// Starts connecting and subscribes (subscriptions made offline are sent on connection).
    private func startSession(_ client: MQTTClient) async throws {
        client.start()
        for topic in [
            topics.agentReceipts(configuration.name), topics.agentRejections(configuration.name),
            topics.agentNonceResponse(configuration.name),
        ] {
            try await client.subscribe(topic)
        }
    }

    private func endSession(_ client: MQTTClient) async {
        if client.isConnected { await publishStatus(.offline, client) }
        await client.shutdown()
    }

    private func publishStatus(_ state: ComponentStatus.State, _ client: MQTTClient) async {
        let message = MQTTMessage(
            topic: topics.status(component: "agent", id: configuration.name),
            payload: statusPayload(state, since: state == .online ? Date() : startedAt), qos: .atLeastOnce,
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
            version: configuration.service.version, counters: state == .offline ? counters : nil)
        return (try? WireJSON.encode(status)) ?? Data()
    }

    /// Routes receipts and rejections to the envelope waiting for them, until the client shuts down.
    private func dispatch(_ client: MQTTClient) async {
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
                if !board.deliver(.rejection(rejection), nonce: nonce) {
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
            let samples = takeSample()
            let full = collected.withLock { collected -> [MetricSample]? in
                collected.append(contentsOf: samples)
                let ticks = Set(collected.map(\.timestamp)).count
                guard ticks >= configuration.samplesPerEnvelope else { return nil }
                defer { collected = [] }
                return collected
            }
            if let full { await spoolBatch(full) }
            try? await Task.sleep(for: interval)
        }
    }

    /// Spools what was sampled but not yet batched (at shutdown).
    private func spoolCollected() async {
        let rest = collected.withLock { collected in
            defer { collected = [] }
            return collected
        }
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

    /// Sends spooled batches in order whenever connected; backs off after a batch stayed pending.
    private func sendLoop(_ client: MQTTClient) async {
        var wasConnected = false
        var backoff: Double = 0
        while !Task.isCancelled {
            let connected = client.isConnected
            if connected, !wasConnected { await publishStatus(.online, client) }
            wasConnected = connected
            var pause = 0.25
            if connected {
                do {
                    try await spool.dropExpired()
                    for entry in await spool.pending() {
                        guard !Task.isCancelled, client.isConnected else { break }
                        let delivery = try await deliver(entry, client)
                        if case .pending = delivery {
                            backoff = min(max(1, backoff * 2), 60)
                            pause = backoff
                            break
                        }
                        if case .nonceRefused = delivery {
                            // Not on the allowlist (or revoked): try again at the next sample.
                            pause = max(configuration.sampleInterval, 1)
                            break
                        }
                        backoff = 0
                    }
                } catch {
                    logger.error("sending from the spool failed", metadata: ["error": "\(error)"])
                    pause = 1
                }
            }
            try? await Task.sleep(for: seconds(pause))
        }
    }

    // MARK: - One envelope

    enum Delivery {
        case accepted(Receipt)
        case rejected(Rejection)
        /// The nonce request was refused: the batch stays in the spool.
        case nonceRefused(Rejection)
        /// No answer in time: the batch stays in the spool.
        case pending
    }

    enum NonceReply {
        case nonce(NonceResponse, expiresAt: Date)
        case rejected(Rejection)
    }

    /// Sends one spooled batch (signing or re-signing it first if needed) and waits for its outcome.
    func deliver(_ spooled: EnvelopeSpool.Entry, _ client: MQTTClient) async throws -> Delivery {
        var entry = spooled
        var resigns = 0
        while true {
            if entry.signed == nil || Self.isStale(entry.signed) {
                let reply: NonceReply
                do {
                    reply = try await fetchNonce(client)
                } catch {
                    count("nonce_timeouts")
                    logger.warning("no nonce", metadata: ["error": "\(error)"])
                    return .pending
                }
                switch reply {
                case .rejected(let rejection):
                    count("rejected")
                    count("rejected.\(rejection.reasonCode ?? "unknown")")
                    log(rejection, context: "nonce request refused; the batch stays in the spool")
                    return .nonceRefused(rejection)
                case .nonce(let nonce, let expiresAt):
                    guard let signed = try await sign(entry, nonce: nonce, expiresAt: expiresAt) else {
                        return .pending  // left the spool meanwhile (a late receipt)
                    }
                    entry = signed
                }
            }
            guard let signed = entry.signed,
                let envelope = try? SignedEnvelope(parsing: Data(signed.envelope.utf8)),
                let expiresAt = signed.nonceExpiry
            else {
                logger.warning("spooled envelope unreadable; re-signing", metadata: ["sequence": "\(entry.sequence)"])
                entry.signed = nil
                continue
            }
            board.expect(signed.nonce, from: Set(configuration.receiptsFrom))
            guard let sent = try await spool.recordSend(sequence: entry.sequence) else {
                board.forget(signed.nonce)
                return .pending
            }
            entry = sent
            do {
                try await withTimeout(seconds(configuration.receiptTimeout)) {
                    try await client.publish(self.message(for: envelope, expiresAt: expiresAt))
                }
            } catch {
                board.forget(signed.nonce)
                logger.warning("cannot publish the envelope; it stays in the spool", metadata: ["error": "\(error)"])
                return .pending
            }
            count("published")
            logger.debug("envelope published", metadata: ["nonce": "\(signed.nonce)", "sequence": "\(entry.sequence)"])

            switch await board.wait(for: signed.nonce, timeout: seconds(configuration.receiptTimeout)) {
            case nil:
                count("receipt_timeouts")
                logger.warning(
                    "no receipt in time; the envelope stays in the spool",
                    metadata: ["nonce": "\(signed.nonce)", "sequence": "\(entry.sequence)"])
                return .pending
            case .stored(let receipts)?:
                guard let first = receipts.first else { return .pending }
                try await spool.remove(nonce: signed.nonce)
                count("accepted")
                logger.info(
                    "envelope accepted",
                    metadata: [
                        "collectors": "\(receipts.map(\.collector).joined(separator: ","))", "nonce": "\(signed.nonce)",
                        "samples": "\(entry.batch.metrics.samples.count)",
                    ])
                return .accepted(first)
            case .rejected(let rejection)?:
                count("rejected")
                count("rejected.\(rejection.reasonCode ?? "unknown")")
                if Self.isRetryable(rejection, sendCount: entry.sendCount) {
                    guard resigns < Self.maximumResigns else {
                        log(rejection, context: "still refused after \(resigns) re-signs; the batch stays in the spool")
                        return .rejected(rejection)
                    }
                    resigns += 1
                    count("resigned")
                    log(rejection, context: "re-signing with a fresh nonce")
                    entry.signed = nil
                    continue
                }
                log(rejection, context: "definitive; the envelope leaves the spool")
                try await spool.remove(nonce: signed.nonce)
                return .rejected(rejection)
            }
        }
    }

    /// nonce_expired and timestamp_skew always, nonce_replayed for an envelope sent more than once:
    /// a fresh nonce and timestamp may succeed. Everything else is definitive.
    static func isRetryable(_ rejection: Rejection, sendCount: Int) -> Bool {
        switch rejection.reasonCode {
        case RejectionReason.nonceExpired.code?, RejectionReason.timestampSkew.code?: true
        case RejectionReason.nonceReplayed.code?: sendCount > 1
        default: false
        }
    }

    static func isStale(_ signed: EnvelopeSpool.SignedForm?) -> Bool {
        guard let expiry = signed?.nonceExpiry else { return true }
        return expiry.timeIntervalSinceNow < nonceSafetyMargin
    }

    /// Asks for a nonce; the answer is a nonce response or a rejection with the same correlation data.
    func fetchNonce(_ client: MQTTClient) async throws -> NonceReply {
        let payload = try WireJSON.encode(
            NonceRequest(agentName: configuration.name, publicKeyHash: signer.publicKeyHash))
        let request = MQTTMessage(
            topic: topics.agentNonceRequest(configuration.name), payload: payload, qos: .atLeastOnce,
            properties: MQTTProperties(responseTopic: topics.agentNonceResponse(configuration.name)))
        let reply = try await client.request(request, timeout: seconds(configuration.nonceTimeout))
        if reply.topic == topics.agentRejections(configuration.name) {
            return .rejected(try Rejection(strictJSON: reply.payload))
        }
        let response: NonceResponse
        do {
            response = try NonceResponse(strictJSON: reply.payload)
        } catch {
            throw AgentError("malformed nonce response: \(error)")
        }
        guard let expiresAt = Timestamp.date(from: response.expiresAt) else {
            throw AgentError("nonce response has no valid expires_at")
        }
        return .nonce(response, expiresAt: expiresAt)
    }

    /// Signs the entry's batch with `nonce` through the TPM and stores the envelope in the spool.
    private func sign(_ entry: EnvelopeSpool.Entry, nonce: NonceResponse, expiresAt: Date) async throws
        -> EnvelopeSpool.Entry?
    {
        let claims = EnvelopeClaims(
            agentName: configuration.name, publicKeyHash: signer.publicKeyHash, nonce: nonce.nonce,
            timestamp: Timestamp.string(from: Date()), geographicRegion: entry.batch.geographicRegion,
            geolocation: entry.batch.geolocation, metrics: entry.batch.metrics)
        let envelope: SignedEnvelope
        do {
            envelope = try await SignedEnvelope.sign(claims, with: signer)
        } catch {
            throw AgentError("TPM signing failed: \(error)")
        }
        let signed = EnvelopeSpool.SignedForm(
            envelope: String(decoding: envelope.serialized(), as: UTF8.self), nonce: nonce.nonce,
            nonceExpiresAt: nonce.expiresAt)
        return try await spool.replaceEnvelope(sequence: entry.sequence, with: signed)
    }

    private func message(for envelope: SignedEnvelope, expiresAt: Date) -> MQTTMessage {
        MQTTMessage(
            topic: topics.agentMetrics(configuration.name), payload: envelope.serialized(), qos: .atLeastOnce,
            properties: MQTTProperties(userProperties: [
                MQTTUserProperty(EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: envelope.claims).headerValue),
                MQTTUserProperty(
                    EnvelopeProperty.signatureInput,
                    SignatureInput(envelope: envelope, nonceExpiresAt: expiresAt).headerValue),
            ]))
    }

    // MARK: - Sampling

    /// The application document becomes a sample's `values`, four levels down in the claims: deeper
    /// documents would make envelopes every receiver refuses (and Foundation's decoder can trap on
    /// some, see `JSONNesting`), so they are left out of the sample.
    static let maximumApplicationMetricsDepth = JSONNesting.maximumDepth - 4

    /// One tick: the system sample, plus the application sample when a metrics file is configured.
    private func takeSample() -> [MetricSample] {
        let now = Timestamp.string(from: Date())
        var samples = [MetricSample(timestamp: now, metricType: "system", values: sampler.withLock { $0.sample() })]
        if let path = configuration.applicationMetricsFile {
            if let data = FileManager.default.contents(atPath: path),
                !JSONNesting.exceeds(Self.maximumApplicationMetricsDepth, in: data),
                let values = try? JSONDecoder().decode([String: JSONValue].self, from: data)
            {
                samples.append(MetricSample(timestamp: now, metricType: "application", values: values))
            } else {
                logger.warning(
                    "application_metrics_file is missing, not a JSON object, or nested deeper than \(Self.maximumApplicationMetricsDepth) levels",
                    metadata: ["file": "\(path)"])
            }
        }
        return samples
    }

    private func batch(_ samples: [MetricSample]) -> EnvelopeSpool.UnsignedBatch {
        EnvelopeSpool.UnsignedBatch(
            geographicRegion: configuration.location, geolocation: configuration.geolocation,
            metrics: MetricsBatch(service: configuration.service, samples: samples))
    }

    // MARK: - Helpers

    private func log(_ rejection: Rejection, context: String) {
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

    private func count(_ name: String) {
        counterValues.increment(name)
    }

    private func seconds(_ value: Double) -> Duration {
        .milliseconds(Int64((value * 1000).rounded()))
    }
}

/// Runs `body`, cancelling it after `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw AgentError("timed out after \(timeout)")
        }
        return result
    }
}

/// Monotonic counters, shared with the spool's report closure.
final class Counters: Sendable {
    private let values = Mutex<[String: Int]>([:])

    func increment(_ name: String) {
        values.withLock { $0[name, default: 0] += 1 }
    }

    var snapshot: [String: Int] { values.withLock { $0 } }
}
