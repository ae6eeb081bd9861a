import DequeModule
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging
import Synchronization

/// The agent's delivery pipeline: spooled batches go out oldest first, up to `max_in_flight` envelopes
/// awaiting their receipts at once, so that a backlog drains at the signer's rate rather than at one
/// round trip per envelope.
///
/// One pass (``drain(_:through:)``) keeps a window full: nonces are requested ahead for the next
/// `max_in_flight` batches (so each is used within about one receipt round trip of its issue, well inside
/// its lifetime; one that comes near its expiry unused is dropped); batches are signed one after another
/// on the signer's executor, the envelopes signed together are stored in the spool in one durable write,
/// and each is published as the bytes that were stored, without waiting for the previous receipt. Receipts and rejections are matched by
/// nonce (``ReplyBoard``). A batch whose envelope is refused with `nonce_expired`, `timestamp_skew`,
/// or `nonce_replayed` after a resend is re-signed (at most ``Agent/maximumResigns`` times per pass);
/// `payload_too_large` splits it; other rejections are definitive. A timeout or a failed publish leaves
/// the batch in the spool and ends the pass once the window has settled (the send loop backs off); the
/// other envelopes in flight are still settled one by one.
extension Agent {
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

    enum NonceReply: Sendable {
        case nonce(NonceResponse, expiresAt: Date)
        case rejected(Rejection)
    }

    /// What one pass did: the outcome per sequence, and why it stopped early, if it did.
    struct Pass {
        var outcomes: [UInt64: Delivery] = [:]
        /// `.pending`, `.nonceRefused` or `.tpmFailed` when the pass stopped before the queue was empty.
        var stop: Delivery?
    }

    /// A batch on its way: the spooled entry, and once signed, its envelope and the exact bytes stored.
    struct Flight: Sendable {
        var entry: EnvelopeSpool.Entry
        var resigns = 0
        var envelope: SignedEnvelope?
        var payload = Data()
        var expiresAt = Date.distantPast
        /// Signed in this pass and not yet in the spool.
        var unstored = false
    }

    enum WindowEvent: Sendable {
        case nonce(Result<NonceReply, any Error>)
        /// The envelope's outcome: nil after a timeout; `publishError` when it never went out.
        case settled(Flight, ReplyBoard.Outcome?, publishError: String?)
        /// A group of flights ready to go, after the durable write of those signed in it: the sequences
        /// stored (the others left the spool meanwhile).
        case stored([Flight], Result<Set<UInt64>, any Error>)
        /// Settled envelopes left the spool (one removal at a time, without a directory sync).
        case removed(Result<Void, any Error>)
    }

    /// One tick: spools it, sends what the spool holds (older batches first, several in flight) and
    /// returns the outcome of the new batch.
    func sendOnce(_ client: any MQTTTransport) async throws -> AgentOutcome {
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
        let newest = entries.map(\.sequence).max() ?? 0
        let pass = try await drain(client, through: newest)
        switch pass.stop {
        case .nonceRefused(let rejection)?: return .rejected(rejection)
        case .tpmFailed(let error)?: throw AgentError("cannot sign: \(error); the batch stays in the spool")
        case .pending?: return .pendingInSpool
        default: break
        }
        // The newest batch's outcome, else the last one the pass settled before it.
        guard let last = pass.outcomes.keys.filter({ $0 <= newest }).max(), let delivery = pass.outcomes[last] else {
            return .pendingInSpool
        }
        switch delivery {
        case .accepted(let receipt): return .accepted(receipt)
        case .rejected(let rejection): return .rejected(rejection)
        default: return .pendingInSpool
        }
    }

    /// Sends spooled batches whenever connected; backs off after a pass ended with batches pending.
    func sendLoop(_ client: any MQTTTransport) async {
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
            guard connected else {
                // Resumes as soon as the connection (and its subscriptions) is up, not at the next tick:
                // after an outage the backlog starts draining at once.
                do {
                    try await client.waitUntilConnected(timeout: seconds(0.25))
                } catch let error as MQTTError where error.isTimeout {
                    // Still offline: look again (the status and the loop's cancellation are checked above).
                } catch {
                    // Shut down or cancelled: no busy loop until the task ends.
                    try? await Task.sleep(for: seconds(0.25))
                }
                continue
            }
            var pause = 0.25
            do {
                try await spool.dropExpired()
                switch try await drain(client).stop {
                case .pending?:
                    backoff = min(max(1, backoff * 2), 60)
                    pause = backoff
                case .nonceRefused?:
                    // Not on the allowlist (or revoked): try again at the next sample.
                    pause = max(configuration.sampleInterval, 1)
                case .tpmFailed?:
                    // Until the TPM may be asked again; short slices keep the status current.
                    pause = min(max(0.25, tpmPauseRemaining), 5)
                default:
                    backoff = 0
                }
            } catch {
                logger.error("sending from the spool failed", metadata: ["error": "\(error)"])
                pause = 1
            }
            try? await Task.sleep(for: seconds(pause))
        }
    }

    // MARK: - The window

    /// One pass over the spool (entries up to `through`, all when nil), as described above.
    func drain(_ client: any MQTTTransport, through last: UInt64? = nil) async throws -> Pass {
        // A deque: the window takes from the front once per envelope, which in an array moves the whole
        // backlog each time.
        var queue = Deque(await spool.pending().filter { last == nil || $0.sequence <= last ?? 0 }.map { Flight(entry: $0) })
        var pass = Pass()
        var nonces: [(response: NonceResponse, expiresAt: Date)] = []
        var nonceRequests = 0
        /// Window slots taken: flights staged for the spool write, being written, or published.
        var inFlight = 0
        var staged: [Flight] = []
        var storing = false
        /// Nonces of settled envelopes to take out of the spool, batched like the signed ones: the spool's
        /// actor may be busy with a durable write, which the loop should not wait for.
        var removals: [String] = []
        var removing = false
        let window = max(1, configuration.maximumInFlight)
        try await withThrowingTaskGroup(of: WindowEvent.self) { group in
            while true {
                if pass.stop == nil, client.isConnected, !Task.isCancelled {
                    // Nonces for the next `window` batches: those the free slots take now, and those that
                    // take the slots freed next, which then need not wait a round trip for theirs. None while
                    // the TPM is paused (they would expire unused).
                    let upcoming = min(
                        nonceWindow.withLock { $0 },
                        tpmPaused() == nil ? queue.prefix(window).lazy.filter { Self.needsSignature($0.entry) }.count : 0)
                    nonces.removeAll { $0.expiresAt.timeIntervalSinceNow < Self.nonceSafetyMargin }
                    while nonces.count + nonceRequests < upcoming {
                        nonceRequests += 1
                        group.addTask(executorPreference: globalConcurrentExecutor) {
                            do {
                                return .nonce(.success(try await self.fetchNonce(client)))
                            } catch {
                                return .nonce(.failure(error))
                            }
                        }
                    }
                    while inFlight < window, var flight = queue.first, pass.stop == nil {
                        if Self.needsSignature(flight.entry) {
                            if let problem = tpmPaused() {
                                pass.stop = .tpmFailed(problem)
                                break
                            }
                            if try await splitIfTooLarge(flight.entry) {
                                queue.removeFirst()
                                pass.outcomes[flight.entry.sequence] = .requeued
                                continue
                            }
                            guard !nonces.isEmpty else { break }
                            let nonce = nonces.removeFirst()
                            switch try await sign(&flight, nonce: nonce.response, expiresAt: nonce.expiresAt) {
                            case .tpmFailed(let problem):
                                nonces.insert(nonce, at: 0)
                                pass.stop = .tpmFailed(problem)
                                continue
                            case .invalid(let problem):
                                queue.removeFirst()
                                try await unsendable(flight.entry, problem)
                                pass.outcomes[flight.entry.sequence] = .requeued
                                continue
                            case .signed:
                                break
                            }
                        } else if flight.envelope == nil {
                            // Read back from disk (a restart, an earlier pass): checked once before it goes out.
                            guard restore(&flight) else {
                                queue[0].entry.signed = nil
                                continue
                            }
                        }
                        queue.removeFirst()
                        staged.append(flight)
                        inFlight += 1
                    }
                }
                // Group commit: the envelopes signed while the previous write was under way go into the spool
                // in one durable write, before any of them is published; one write at a time keeps the order.
                if !storing, !staged.isEmpty {
                    let batch = staged
                    staged.removeAll()
                    let forms = batch.compactMap { flight in
                        flight.unstored ? flight.entry.signed.map { (sequence: flight.entry.sequence, signed: $0) } : nil
                    }
                    if forms.isEmpty {
                        inFlight -= await release(batch, stored: [], client, in: &group)
                    } else {
                        storing = true
                        group.addTask(executorPreference: globalConcurrentExecutor) { [spool] in
                            do {
                                return .stored(batch, .success(Set(try await spool.recordSigned(forms).map(\.sequence))))
                            } catch {
                                return .stored(batch, .failure(error))
                            }
                        }
                    }
                }
                if !removing, !removals.isEmpty {
                    removing = true
                    let nonces = removals
                    removals.removeAll()
                    group.addTask(executorPreference: globalConcurrentExecutor) { [spool] in
                        do {
                            try await spool.remove(nonces: nonces, durably: false)
                            return .removed(.success(()))
                        } catch {
                            return .removed(.failure(error))
                        }
                    }
                }
                if inFlight == 0, !removing, pass.stop != nil || queue.isEmpty || !client.isConnected || Task.isCancelled {
                    if pass.stop == nil, !queue.isEmpty { pass.stop = .pending }
                    break
                }
                // Nothing outstanding while batches wait (one read back needs signing after all): the top of
                // the loop asks for the nonces they need.
                guard let event = try await group.next() else { continue }
                switch event {
                case .nonce(let result):
                    nonceRequests -= 1
                    switch result {
                    case .success(.nonce(let response, let expiresAt)):
                        nonces.append((response, expiresAt))
                        nonceWindow.withLock { $0 = min(window, $0 + 1) }
                    case .success(.rejected(let rejection)):
                        count("rejected")
                        count("rejected.\(rejection.reasonCode ?? "unknown")")
                        log(rejection, context: "nonce request refused; the batch stays in the spool")
                        if pass.stop == nil { pass.stop = .nonceRefused(rejection) }
                    case .failure(let error):
                        count("nonce_timeouts")
                        nonceWindow.withLock { $0 = max(1, $0 / 2) }
                        logger.warning("no nonce", metadata: ["error": "\(error)"])
                        if pass.stop == nil { pass.stop = .pending }
                    }
                case .removed(let result):
                    removing = false
                    try result.get()
                case .stored(let batch, let result):
                    storing = false
                    inFlight -= await release(batch, stored: try result.get(), client, in: &group)
                case .settled(var flight, let outcome, let publishError):
                    inFlight -= 1
                    if let publishError {
                        logger.warning("cannot publish the envelope; it stays in the spool", metadata: ["error": "\(publishError)"])
                        if pass.stop == nil { pass.stop = .pending }
                        continue
                    }
                    let delivery = try await settle(&flight, outcome, removals: &removals)
                    if case .pending = delivery, pass.stop == nil { pass.stop = .pending }
                    if let delivery {
                        pass.outcomes[flight.entry.sequence] = delivery
                    } else {
                        // Re-sign: back into the queue in sequence order, ahead of younger batches.
                        let position = queue.firstIndex { $0.entry.sequence > flight.entry.sequence } ?? queue.endIndex
                        queue.insert(flight, at: position)
                    }
                }
            }
            group.cancelAll()
        }
        // Removals made without a directory sync of their own (see EnvelopeSpool) become durable here.
        try await spool.sync()
        return pass
    }

    /// Publishes a group of flights in order once the signed ones among them are stored; returns how many
    /// did not go out (they left the spool meanwhile).
    private func release(
        _ batch: [Flight], stored: Set<UInt64>, _ client: any MQTTTransport,
        in group: inout ThrowingTaskGroup<WindowEvent, any Error>
    ) async -> Int {
        var dropped = 0
        for var flight in batch {
            if flight.unstored {
                guard stored.contains(flight.entry.sequence) else {
                    dropped += 1
                    continue
                }
                flight.unstored = false
                flight.entry.sendCount = 1
            } else {
                guard let resent = await spool.noteResend(sequence: flight.entry.sequence) else {
                    dropped += 1
                    continue
                }
                flight.entry.sendCount = resent.sendCount
            }
            if !launch(flight, client, in: &group) { dropped += 1 }
        }
        return dropped
    }

    /// Whether the entry must be signed (again) before it can go out.
    static func needsSignature(_ entry: EnvelopeSpool.Entry) -> Bool {
        entry.signed == nil || isStale(entry.signed)
    }

    /// Publishes the flight's stored bytes and waits for its receipt in a child task; false if the flight
    /// has no envelope (never the case for a signed or restored one). The child tasks inherit the signer's
    /// executor: on a serial one (the TPM's) they start in launch order and hand their messages to the
    /// MQTT client before their first wait, so the envelopes go out oldest first.
    private func launch(
        _ flight: Flight, _ client: any MQTTTransport, in group: inout ThrowingTaskGroup<WindowEvent, any Error>
    ) -> Bool {
        guard let nonce = flight.entry.nonce, let envelope = flight.envelope else { return false }
        board.expect(nonce, from: Set(configuration.receiptsFrom), size: flight.payload.count)
        let outgoing = message(for: envelope, payload: flight.payload, expiresAt: flight.expiresAt)
        let receiptTimeout = seconds(configuration.receiptTimeout)
        group.addTask {
            let started = ContinuousClock.now
            do {
                try await withTimeout(receiptTimeout) { try await client.publish(outgoing) }
            } catch {
                self.board.forget(nonce)
                return .settled(flight, nil, publishError: "\(error)")
            }
            self.count("published")
            self.logger.debug("envelope published", metadata: ["nonce": "\(nonce)", "sequence": "\(flight.entry.sequence)"])
            let outcome = await self.board.wait(for: nonce, timeout: receiptTimeout)
            if case .stored? = outcome { self.receiptDuration.record(ContinuousClock.now - started) }
            return .settled(flight, outcome, publishError: nil)
        }
        return true
    }

    /// Acts on an envelope's outcome; nil when the batch is to be signed again (the flight is made ready
    /// for that). The nonce of an envelope that leaves the spool goes to `removals`.
    private func settle(
        _ flight: inout Flight, _ outcome: ReplyBoard.Outcome?, removals: inout [String]
    ) async throws -> Delivery? {
        let entry = flight.entry
        guard let nonce = entry.nonce else { return .pending }
        switch outcome {
        case nil:
            count("receipt_timeouts")
            logger.warning(
                "no receipt in time; the envelope stays in the spool",
                metadata: ["nonce": "\(nonce)", "sequence": "\(entry.sequence)"])
            return .pending
        case .stored(let receipts)?:
            guard let first = receipts.first else { return .pending }
            removals.append(nonce)
            count("accepted")
            logger.info(
                "envelope accepted",
                metadata: [
                    "collectors": "\(receipts.map(\.collector).joined(separator: ","))", "nonce": "\(nonce)",
                    "samples": "\(entry.batch.metrics.samples.count)",
                ])
            return .accepted(first)
        case .rejected(let rejection)?:
            count("rejected")
            count("rejected.\(rejection.reasonCode ?? "unknown")")
            if Self.isRetryable(rejection, sendCount: entry.sendCount) {
                guard flight.resigns < Self.maximumResigns else {
                    log(rejection, context: "still refused after \(flight.resigns) re-signs; the batch stays in the spool")
                    return .rejected(rejection)
                }
                flight.resigns += 1
                count("resigned")
                log(rejection, context: "re-signing with a fresh nonce")
                flight.entry.signed = nil
                flight.envelope = nil
                return nil
            }
            if rejection.reasonCode == RejectionReason.payloadTooLarge.code, entry.batch.metrics.samples.count > 1 {
                // A receiver with a lower limit than max_envelope_bytes: smaller batches still arrive.
                log(rejection, context: "splitting the batch in two; set max_envelope_bytes to the receivers' limit")
                let samples = entry.batch.metrics.samples
                let half = samples.count / 2
                try await split(entry, into: [Array(samples[..<half]), Array(samples[half...])])
                return .requeued
            }
            log(rejection, context: "definitive; the envelope leaves the spool")
            removals.append(nonce)
            return .rejected(rejection)
        }
    }

    /// Checks a signed form read back from the spool once (it may come from another version or a damaged
    /// disk) and keeps its envelope for the message properties; false when it must be signed again.
    private func restore(_ flight: inout Flight) -> Bool {
        guard let signed = flight.entry.signed, let expiresAt = signed.nonceExpiry else { return false }
        let payload = Data(signed.envelope.utf8)
        do throws(ValidationFailure) {
            flight.envelope = try SignedEnvelope(parsing: payload, maximumSize: budget.maximumEnvelopeBytes)
        } catch {
            logger.warning(
                "spooled envelope unreadable; re-signing",
                metadata: ["sequence": "\(flight.entry.sequence)", "error": "\(error)"])
            return false
        }
        flight.payload = payload
        flight.expiresAt = expiresAt
        return true
    }

    enum Signing {
        case signed(EnvelopeSpool.SignedForm)
        case tpmFailed(String)
        /// No valid envelope can be made of this batch.
        case invalid(String)
    }

    /// Signs the flight's batch with `nonce`: the envelope is serialized once, and those bytes are both
    /// stored and published.
    private func sign(_ flight: inout Flight, nonce: NonceResponse, expiresAt: Date) async throws -> Signing {
        let batch = flight.entry.batch
        let claims = EnvelopeClaims(
            agentName: configuration.name, publicKeyHash: signer.publicKeyHash, nonce: nonce.nonce,
            timestamp: Timestamp.string(from: Date()), geographicRegion: batch.geographicRegion,
            geolocation: geolocationToSign(batch), metrics: batch.metrics)
        let envelope: SignedEnvelope
        do {
            let started = ContinuousClock.now
            envelope = try await SignedEnvelope.sign(claims, with: signer)
            tpmSignDuration.record(ContinuousClock.now - started)
        } catch let error as TPMError {
            return .tpmFailed(recordTPMFailure(error))
        } catch {
            // Not the TPM: the claims themselves cannot be written (a value JSON cannot carry).
            return .invalid("its claims cannot be written as JSON: \(error)")
        }
        tpmRecovered()
        let payload = envelope.serialized()
        let form = EnvelopeSpool.SignedForm(
            envelope: String(decoding: payload, as: UTF8.self), nonce: nonce.nonce, nonceExpiresAt: nonce.expiresAt)
        flight.entry.signed = form
        flight.unstored = true
        flight.envelope = envelope
        flight.payload = payload
        flight.expiresAt = expiresAt
        return .signed(form)
    }

    private func message(for envelope: SignedEnvelope, payload: Data, expiresAt: Date) -> MQTTMessage {
        MQTTMessage(
            topic: topics.agentMetrics(configuration.name), payload: payload, qos: .atLeastOnce,
            properties: MQTTProperties(userProperties: [
                MQTTUserProperty(EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: envelope.claims).headerValue),
                MQTTUserProperty(
                    EnvelopeProperty.signatureInput,
                    SignatureInput(envelope: envelope, nonceExpiresAt: expiresAt).headerValue),
            ]))
    }

    // MARK: - Nonces and rules

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
    func fetchNonce(_ client: any MQTTTransport) async throws -> NonceReply {
        let payload = try WireJSON.encode(
            NonceRequest(agentName: configuration.name, publicKeyHash: signer.publicKeyHash))
        let request = MQTTMessage(
            topic: topics.agentNonceRequest(configuration.name), payload: payload, qos: .atLeastOnce,
            properties: MQTTProperties(
                responseTopic: topics.agentNonceResponse(configuration.name),
                // Nobody waits for the answer after the timeout: a broker or a site bridge holding the
                // request longer (an outage) discards it instead of making collectors answer it.
                messageExpiryInterval: UInt32(max(1, configuration.nonceTimeout.rounded(.up)))))
        let asked = ContinuousClock.now
        let reply = try await client.request(request, timeout: seconds(configuration.nonceTimeout))
        nonceRequestDuration.record(ContinuousClock.now - asked)
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

    // MARK: - Batches that cannot be one envelope

    /// Splits a batch that does not fit in one envelope (spooled by an older version, or under a larger
    /// `max_envelope_bytes`) into batches that do; samples that fit nowhere are left out. Returns whether
    /// the entry was replaced.
    func splitIfTooLarge(_ entry: EnvelopeSpool.Entry) async throws -> Bool {
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

    func split(_ entry: EnvelopeSpool.Entry, into parts: [[MetricSample]]) async throws {
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
    func unsendable(_ entry: EnvelopeSpool.Entry, _ problem: any CustomStringConvertible) async throws {
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
    struct TPMOutage: Sendable {
        var retryAt: ContinuousClock.Instant
        var kind: String
        var problem: String
    }

    /// The TPM's problem while signing is paused after a failure; nil when it may be asked.
    func tpmPaused() -> String? {
        tpmOutage.withLock { outage in
            guard let outage, ContinuousClock.now < outage.retryAt else { return nil }
            return outage.problem
        }
    }

    /// Seconds until the TPM may be asked again.
    var tpmPauseRemaining: Double {
        let remaining = tpmOutage.withLock { $0.map { $0.retryAt - ContinuousClock.now } } ?? .zero
        return Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18
    }

    /// Notes a failed signature: pauses signing (the lockout's recovery time or the device's reconnect
    /// backoff, at most a minute), logs when the kind of trouble changes, and marks the status degraded.
    func recordTPMFailure(_ error: TPMError) -> String {
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

    func tpmRecovered() {
        guard tpmOutage.withLock({ $0.take() }) != nil else { return }
        health.clear("tpm")
        logger.notice("the TPM signs again; sending the spooled batches")
    }

}
