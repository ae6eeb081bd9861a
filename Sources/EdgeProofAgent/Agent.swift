import EdgeProofCore
import EdgeProofMQTT
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
public final class Agent: Service {
    public let configuration: AgentConfiguration
    private let signer: TPMSigner
    private let logger: Logger
    private let topics: TopicTree
    private let spool: EnvelopeSpool
    private let board = ReplyBoard()
    private let sampler: Mutex<SystemMetrics>
    /// Samples not yet spooled as a batch.
    private let builder: Mutex<BatchBuilder>
    /// How much of the claims the samples of one envelope may take.
    let budget: EnvelopeBudget
    /// The counters (swift-metrics), read back for the status and ``counters``.
    private let metrics: ServiceMetrics
    private let health = AgentHealth()
    /// Set after a TPM failure: no new signature (and no nonce for one) before its `retryAt`.
    private let tpmOutage = Mutex<TPMOutage?>(nil)
    private let startedAt = Date()

    /// Re-signs per delivery attempt before the batch is left in the spool for later.
    static let maximumResigns = 3
    /// A nonce this close to its expiry is not used any more.
    static let nonceSafetyMargin: TimeInterval = 2
    /// How long a TPM failure pauses signing at most (a lockout lasts longer; it is checked again after this).
    static let maximumTPMPause: Duration = .seconds(60)

    /// Opens the spool. `signer` is the only key the agent signs with (a TPM key, see ``TPMSigner``).
    public init(
        configuration: AgentConfiguration, signer: TPMSigner, metrics: ServiceMetrics = ServiceMetrics(), logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.metrics = metrics
        self.signer = signer
        self.logger = logger
        self.topics = TopicTree(prefix: configuration.broker.topicPrefix)
        self.sampler = Mutex(SystemMetrics(diskPath: configuration.diskPath))
        // An entry holds the batch and its signed envelope (base64 of it): a third of the spool at most, so
        // that a full-size batch is never dropped on arrival.
        let envelopeLimit = min(configuration.maxEnvelopeBytes, configuration.spool.maxBytes / 3)
        budget = EnvelopeBudget(
            maximumEnvelopeBytes: envelopeLimit, agentName: configuration.name, publicKeyHash: signer.publicKeyHash,
            geographicRegion: configuration.location, geolocation: configuration.geolocation,
            service: configuration.service)
        builder = Mutex(BatchBuilder(room: budget.roomForSamples, ticksPerBatch: configuration.samplesPerEnvelope))
        if envelopeLimit < configuration.maxEnvelopeBytes {
            logger.warning(
                "envelopes are limited to a third of spool.max_bytes",
                metadata: ["limit": "\(envelopeLimit)", "max_envelope_bytes": "\(configuration.maxEnvelopeBytes)"])
        }
        if !signer.lockoutExempt {
            logger.warning(
                """
                the TPM signing key has no noDA: after a few unclean shutdowns (power losses) the TPM locks it out \
                (TPM_RC_LOCKOUT); replace it with `edgeproof tpm provision --replace` and update the allowlist
                """,
                metadata: ["handle": "\(signer.handle)"])
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
        // One tick: usually one batch, two when its samples do not fit in one envelope together.
        let batches = budget.split(takeSample().map(\.sample)).batches
        guard !batches.isEmpty else {
            throw AgentError("no sample to send: \(health.summary ?? "every sample was refused")")
        }
        var entries: [EnvelopeSpool.Entry] = []
        for samples in batches {
            guard let entry = try await spool.enqueue(batch(samples)) else {
                throw AgentError("the spool is full (when_full: drop_newest) and refused the new batch")
            }
            entries.append(entry)
        }
        do {
            try await client.waitUntilConnected(timeout: seconds(configuration.nonceTimeout))
        } catch {
            logger.warning("broker unreachable; the batch stays in the spool", metadata: ["error": "\(error)"])
            return .pendingInSpool
        }
        await publishStatus(client)
        let newest = entries.map(\.sequence).max()
        var last: AgentOutcome = .pendingInSpool
        for entry in await spool.pending() {
            let delivery = try await deliver(entry, client)
            switch delivery {
            case .accepted(let receipt): last = .accepted(receipt)
            case .rejected(let rejection): last = .rejected(rejection)
            case .requeued: last = .pendingInSpool
            case .nonceRefused(let rejection): return .rejected(rejection)
            case .pending: return .pendingInSpool
            case .tpmFailed(let error):
                throw AgentError("cannot sign: \(error); the batch stays in the spool")
            }
            if entry.sequence == newest { break }
        }
        return last
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
        if client.isConnected { await publishStatus(client, offline: true) }
        await client.shutdown()
    }

    /// Publishes the retained status: online, degraded with the current problems, or offline.
    private func publishStatus(_ client: MQTTClient, offline: Bool = false) async {
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

    /// Sends spooled batches in order whenever connected; backs off after a batch stayed pending.
    private func sendLoop(_ client: MQTTClient) async {
        var wasConnected = false
        var publishedHealth = -1
        var backoff: Double = 0
        while !Task.isCancelled {
            let connected = client.isConnected
            // The status follows the problems: republished on connection and whenever they change.
            if connected, !wasConnected || publishedHealth != health.version {
                publishedHealth = health.version
                await publishStatus(client)
            }
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
                        if case .tpmFailed = delivery {
                            // Until the TPM may be asked again; short slices keep the status current.
                            pause = min(max(0.25, tpmPauseRemaining), 5)
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
        /// The batch could not be one envelope: it was split into smaller batches at the end of the queue,
        /// or dropped if nothing of it could ever be sent. The queue goes on with the next batch.
        case requeued
        /// The TPM could not sign (said why); the batch stays in the spool until it can.
        case tpmFailed(String)
    }

    enum NonceReply {
        case nonce(NonceResponse, expiresAt: Date)
        case rejected(Rejection)
    }

    /// Sends one spooled batch (signing or re-signing it first if needed) and waits for its outcome.
    func deliver(_ spooled: EnvelopeSpool.Entry, _ client: MQTTClient) async throws -> Delivery {
        var entry = spooled
        var resigns = 0
        var freshlySigned = false
        while true {
            if entry.signed == nil || Self.isStale(entry.signed) {
                if let problem = tpmPaused() { return .tpmFailed(problem) }
                if try await splitIfTooLarge(entry) { return .requeued }
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
                    switch try await sign(entry, nonce: nonce, expiresAt: expiresAt) {
                    case .signed(let signed):
                        entry = signed
                        freshlySigned = true
                    case .gone:
                        return .pending  // left the spool meanwhile (a late receipt)
                    case .tpmFailed(let problem):
                        return .tpmFailed(problem)
                    case .invalid(let problem):
                        try await unsendable(entry, problem)
                        return .requeued
                    }
                }
            }
            let envelope: SignedEnvelope
            do throws(ValidationFailure) {
                envelope = try SignedEnvelope(
                    parsing: Data((entry.signed?.envelope ?? "").utf8), maximumSize: budget.maximumEnvelopeBytes)
            } catch {
                // Signing again cannot mend what was just signed; only an envelope read back from disk may
                // be worth one more signature (a damaged file, or one signed by another version).
                if freshlySigned {
                    try await unsendable(entry, error)
                    return .requeued
                }
                logger.warning(
                    "spooled envelope unreadable; re-signing",
                    metadata: ["sequence": "\(entry.sequence)", "error": "\(error)"])
                entry.signed = nil
                continue
            }
            guard let signed = entry.signed, let expiresAt = signed.nonceExpiry else {
                if freshlySigned {
                    try await unsendable(entry, "its nonce has no valid expiry")
                    return .requeued
                }
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
                if rejection.reasonCode == RejectionReason.payloadTooLarge.code, entry.batch.metrics.samples.count > 1 {
                    // A receiver with a lower limit than max_envelope_bytes: smaller batches still arrive.
                    log(
                        rejection,
                        context: "splitting the batch in two; set max_envelope_bytes to the receivers' limit")
                    let samples = entry.batch.metrics.samples
                    let half = samples.count / 2
                    try await split(entry, into: [Array(samples[..<half]), Array(samples[half...])])
                    return .requeued
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

    enum Signing {
        case signed(EnvelopeSpool.Entry)
        /// The entry left the spool meanwhile.
        case gone
        case tpmFailed(String)
        /// No valid envelope can be made of this batch.
        case invalid(String)
    }

    /// Signs the entry's batch with `nonce` through the TPM and stores the envelope in the spool.
    private func sign(_ entry: EnvelopeSpool.Entry, nonce: NonceResponse, expiresAt: Date) async throws -> Signing {
        let claims = EnvelopeClaims(
            agentName: configuration.name, publicKeyHash: signer.publicKeyHash, nonce: nonce.nonce,
            timestamp: Timestamp.string(from: Date()), geographicRegion: entry.batch.geographicRegion,
            geolocation: entry.batch.geolocation, metrics: entry.batch.metrics)
        let envelope: SignedEnvelope
        do {
            envelope = try await SignedEnvelope.sign(claims, with: signer)
        } catch let error as TPMError {
            return .tpmFailed(recordTPMFailure(error))
        } catch {
            // Not the TPM: the claims themselves cannot be written (a value JSON cannot carry).
            return .invalid("its claims cannot be written as JSON: \(error)")
        }
        tpmRecovered()
        let signed = EnvelopeSpool.SignedForm(
            envelope: String(decoding: envelope.serialized(), as: UTF8.self), nonce: nonce.nonce,
            nonceExpiresAt: nonce.expiresAt)
        guard let updated = try await spool.replaceEnvelope(sequence: entry.sequence, with: signed) else {
            return .gone
        }
        return .signed(updated)
    }

    // MARK: - Batches that cannot be one envelope

    /// Splits a batch that does not fit in one envelope (spooled by an older version, or under a larger
    /// `max_envelope_bytes`) into batches that do; samples that fit nowhere are left out. Returns whether
    /// the entry was replaced.
    private func splitIfTooLarge(_ entry: EnvelopeSpool.Entry) async throws -> Bool {
        let samples = entry.batch.metrics.samples
        let (batches, unfit) = budget.split(samples)
        guard batches.count > 1 || !unfit.isEmpty else { return false }
        if !unfit.isEmpty {
            count("samples_refused", by: unfit.count)
            logger.error(
                "left out samples that cannot fit in an envelope of \(budget.maximumEnvelopeBytes) bytes",
                metadata: ["sequence": "\(entry.sequence)", "samples": "\(unfit.count)"])
        }
        guard !batches.isEmpty else {
            let limit = budget.maximumEnvelopeBytes
            try await unsendable(entry, "none of its samples fits in an envelope of \(limit) bytes")
            return true
        }
        try await split(entry, into: batches)
        return true
    }

    private func split(_ entry: EnvelopeSpool.Entry, into parts: [[MetricSample]]) async throws {
        let batches = parts.map { samples in
            EnvelopeSpool.UnsignedBatch(
                geographicRegion: entry.batch.geographicRegion, geolocation: entry.batch.geolocation,
                metrics: MetricsBatch(service: entry.batch.metrics.service, samples: samples))
        }
        let added = try await spool.split(sequence: entry.sequence, into: batches)
        count("batches_split")
        logger.warning(
            "batch too large for one envelope; split, the parts go to the end of the queue",
            metadata: [
                "sequence": "\(entry.sequence)", "samples": "\(entry.batch.metrics.samples.count)",
                "parts": "\(added.map(\.sequence))", "max_envelope_bytes": "\(budget.maximumEnvelopeBytes)",
            ])
    }

    /// Drops a batch of which no valid envelope can be made, saying why: retrying it would only hold up
    /// every batch behind it.
    private func unsendable(_ entry: EnvelopeSpool.Entry, _ problem: any CustomStringConvertible) async throws {
        count("batches_unsendable")
        logger.error(
            "dropping a batch that cannot be made into a valid envelope",
            metadata: [
                "sequence": "\(entry.sequence)", "samples": "\(entry.batch.metrics.samples.count)",
                "problem": "\(problem)",
            ])
        try await spool.discard(sequence: entry.sequence, reason: "unsendable")
    }

    // MARK: - TPM trouble

    /// The TPM's current trouble and when to ask it again; nil while it signs.
    private struct TPMOutage: Sendable {
        var retryAt: ContinuousClock.Instant
        var kind: String
        var problem: String
    }

    /// The TPM's problem while signing is paused after a failure; nil when it may be asked.
    private func tpmPaused() -> String? {
        tpmOutage.withLock { outage in
            guard let outage, ContinuousClock.now < outage.retryAt else { return nil }
            return outage.problem
        }
    }

    /// Seconds until the TPM may be asked again.
    private var tpmPauseRemaining: Double {
        let remaining = tpmOutage.withLock { $0.map { $0.retryAt - ContinuousClock.now } } ?? .zero
        return Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18
    }

    /// Notes a failed signature: pauses signing (the lockout's recovery time or the device's reconnect
    /// backoff, at most a minute), logs when the kind of trouble changes, and marks the status degraded.
    private func recordTPMFailure(_ error: TPMError) -> String {
        count("tpm_failures")
        let kind =
            if error.isLockout {
                "the TPM is in dictionary-attack lockout"
            } else if error.isUnavailable {
                "the TPM is unavailable"
            } else {
                "TPM signing failed"
            }
        let problem = "\(kind); batches are spooled and signed once it works again: \(error)"
        let pause = min(max(error.retryAfter ?? .seconds(5), .milliseconds(250)), Self.maximumTPMPause)
        let isNew = tpmOutage.withLock { outage in
            let isNew = outage?.kind != kind
            // The first report of a kind stays: the status changes with the trouble, not with each retry.
            let shown = isNew ? problem : outage?.problem ?? problem
            outage = TPMOutage(retryAt: ContinuousClock.now + pause, kind: kind, problem: shown)
            return isNew
        }
        if isNew {
            health.report("tpm", problem)
            logger.error("\(kind); sampling and spooling go on", metadata: ["error": "\(error)"])
        } else {
            logger.debug("TPM still failing", metadata: ["error": "\(error)"])
        }
        return problem
    }

    private func tpmRecovered() {
        guard tpmOutage.withLock({ $0.take() }) != nil else { return }
        health.clear("tpm")
        logger.notice("the TPM signs again; sending the spooled batches")
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

    /// One tick: the system sample, plus the application sample when a metrics file is configured, each
    /// with its JSON size. A sample that cannot fit in an envelope (or that JSON cannot carry) is refused
    /// here, said and counted, rather than becoming a batch that can never be sent.
    private func takeSample() -> [(sample: MetricSample, bytes: Int)] {
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
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            return problem("not valid JSON: \(DecodingProblem.describe(error))")
        }
        guard case .object(let members) = value else { return problem("the JSON is not an object") }
        return .success(members)
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

    /// Counts one of `name` (flat: `rejected.<reason>` is `rejected` with a reason).
    private func count(_ name: String) {
        count(name, by: 1)
    }

    private func count(_ name: String, by amount: Int) {
        metrics.count(name, by: amount)
    }

    private func seconds(_ value: Double) -> Duration {
        .milliseconds(Int64((value * 1000).rounded()))
    }
}
