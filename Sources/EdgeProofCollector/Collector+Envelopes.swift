import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// Verified envelopes: check, store durably, then receipt.
extension Collector {
    /// How many times (10 ms apart) a copy waits for its first copy's write to end.
    static let inProgressWaits = 300

    /// Envelopes taken from the queue at once by a worker: checked one after the other, their records
    /// written with one fsync.
    public static let maximumBatch = 128
    /// Answers (receipts, rejections, events) a worker has in flight before it waits for some.
    static let maximumAnswersInFlight = 1024

    /// Queues envelopes from `verified/{agent}/metrics`; returns how many workers the caller must start:
    /// one per batch waiting, up to ``maximumEnvelopeWorkers`` running.
    func enqueueEnvelopes(_ items: [EnvelopeStore.Item]) -> Int {
        envelopeQueue.withLock { queue in
            queue.items.append(contentsOf: items)
            let batches = (queue.items.count + Self.maximumBatch - 1) / Self.maximumBatch
            let start = max(0, min(Self.maximumEnvelopeWorkers - queue.workers, batches))
            queue.workers += start
            return start
        }
    }

    /// Envelopes waiting for a worker.
    var queuedEnvelopes: Int { envelopeQueue.withLock { $0.items.count } }

    /// Takes batches from the queue until it is empty: checks them, stores the accepted ones (one
    /// fsync per batch), and only then answers each (receipt, or the rejection), concurrently and
    /// while the next batch is checked. The receipts of a batch go out together, with one wait for
    /// their acknowledgements.
    func runEnvelopeWorker() async {
        await withTaskGroup(of: Int.self) { answers in
            var inFlight = 0
            /// Waits until `count` more answers fit under ``maximumAnswersInFlight`` and takes their room.
            func makeRoom(for count: Int) async {
                while inFlight > 0, inFlight + count > Self.maximumAnswersInFlight, let answered = await answers.next() {
                    inFlight -= answered
                }
                inFlight += count
            }
            await store.run(
                batches: {
                    envelopeQueue.withLock { queue -> [EnvelopeStore.Item]? in
                        guard !queue.items.isEmpty else {
                            queue.workers -= 1
                            return nil
                        }
                        let taken = Array(queue.items.prefix(Self.maximumBatch))
                        queue.items.removeFirst(taken.count)
                        return taken
                    }
                },
                allowlist: { currentAllowlist },
                answer: { batch, outcomes in
                    if outcomes.contains(where: { if case .stored = $0 { true } else { false } }) {
                        await storeSucceeded()
                    }
                    var stored: [Stored] = []
                    for (item, outcome) in zip(batch, outcomes) {
                        if case .stored(let accepted, let storedAt) = outcome {
                            stored.append(Stored(accepted: accepted, agent: item.agent, storedAt: storedAt))
                            continue
                        }
                        await makeRoom(for: 1)
                        answers.addTask {
                            await self.answer(outcome, for: item)
                            return 1
                        }
                    }
                    guard !stored.isEmpty else { return }
                    await makeRoom(for: stored.count)
                    answers.addTask { [stored] in
                        await self.sendReceipts(stored)
                        return stored.count
                    }
                })
        }
    }

    /// Sends what an outcome calls for: the receipt only for a durable record.
    private func answer(_ outcome: EnvelopeStore.Outcome, for item: EnvelopeStore.Item) async {
        switch outcome {
        case .stored(let accepted, let storedAt):
            await sendReceipts([Stored(accepted: accepted, agent: item.agent, storedAt: storedAt)])
        case .rejected(let failure):
            await reject(failure, agent: item.agent, correlationData: nil)
        case .storedAlready(let failure):
            // The agent resent an envelope this collector has: it missed the receipt. Nothing is
            // stored again; the answer tells the agent (only collectors may publish on its topics).
            count("duplicates")
            await reject(failure, agent: item.agent, correlationData: nil)
        case .inProgress:
            await awaitFirstCopy(of: item)
        case .notStored(let accepted, let error):
            // Not stored, so not used: the agent gets no receipt and resends the same envelope.
            await storeFailed(nonce: accepted.nonceToken, agent: item.agent, problem: "records: \(error)")
        }
    }

    /// A copy of an envelope whose first copy is being written right now waits for that write (a
    /// few milliseconds), so that it gets the answer of the outcome: stored already, or stored now.
    private func awaitFirstCopy(of item: EnvelopeStore.Item) async {
        for _ in 0..<Self.inProgressWaits {
            // Cancelled (shutdown): the first copy's receipt answers both.
            guard (try? await Task.sleep(for: .milliseconds(10))) != nil else { return }
            guard let outcome = await store.store([item], allowlist: currentAllowlist).first else { return }
            if case .inProgress = outcome { continue }
            if case .stored = outcome { await storeSucceeded() }
            await answer(outcome, for: item)
            return
        }
        // The first copy's write is still not done (a stuck disk): its receipt answers both.
        count("duplicates")
    }

    /// An envelope whose record is durable: it gets a receipt.
    struct Stored: Sendable {
        var accepted: EnvelopeIntake.Accepted
        var agent: String
        var storedAt: Date
    }

    /// Receipts for envelopes whose records are durable, published together; then their `accepted`
    /// events, to the events file and (QoS 0) the events topic.
    private func sendReceipts(_ stored: [Stored]) async {
        metrics.count("accepted", by: stored.count)
        var receipts: [MQTTMessage] = []
        var events: [TrustEvent] = []
        receipts.reserveCapacity(stored.count)
        events.reserveCapacity(stored.count)
        for item in stored {
            let accepted = item.accepted
            let storedAt = Timestamp.string(from: item.storedAt)
            let receipt = Receipt(nonce: accepted.nonceToken, collector: configuration.id, storedAt: storedAt)
            receipts.append(MQTTMessage(topic: topics.agentReceipts(item.agent), payload: receipt.jsonData()))
            events.append(
                event(
                    kind: "accepted", agent: item.agent,
                    details: [
                        "nonce": .string(accepted.nonceToken), "kid": .string(accepted.keyID.hex),
                        "samples": .number(Double(accepted.sampleCount)),
                        "stored_at": .string(storedAt),
                    ]))
        }
        await publish(receipts)
        await emit(events)
    }

    /// A durable write failed: no receipt (the agent retries), an error in the log, an event.
    private func storeFailed(nonce: String, agent: String, problem: String) async {
        count("store_failed")
        let first = storageProblem.withLock { current in
            defer { current = problem }
            return current == nil
        }
        if first {
            // Reported once per outage, in the retained status too: monitoring sees that this
            // collector sends no receipts until it can write again.
            await publish(statusMessage(.degraded))
        }
        logger.error(
            "cannot store an accepted envelope; no receipt sent",
            metadata: ["agent": "\(agent)", "nonce": "\(nonce)", "error": "\(problem)"])
        await emit(
            kind: "store_failed", agent: agent,
            details: ["nonce": .string(nonce), "error": .string(problem)])
    }

    /// A durable write worked: ends a storage outage, if there was one, in the status and events.
    func storeSucceeded() async {
        guard let ended = storageProblem.withLock({ current in
            defer { current = nil }
            return current
        }) else { return }
        logger.notice("records can be written again; receipts resume", metadata: ["was": "\(ended)"])
        await publish(statusMessage(.online))
        await emit(kind: "store_recovered", details: ["was": .string(ended)])
    }

    /// Sends the aligned rejection to the agent (with the request's correlation data for a nonce
    /// request), publishes and records a `rejection` event, and counts it.
    func reject(_ failure: ValidationFailure, agent: String, correlationData: Data?) async {
        count("rejected")
        count("rejected.\(failure.reason.code)")
        logger.notice(
            "rejected", metadata: ["agent": "\(agent)", "reason": "\(failure.reason.code)", "error": "\(failure.message)"])
        let rejection = Rejection(failure, rejectedBy: .collector, at: Date())
        if let payload = try? rejection.jsonData() {
            var properties = MQTTProperties()
            properties.correlationData = correlationData
            await publish(
                MQTTMessage(topic: topics.agentRejections(agent), payload: payload, properties: properties))
        }
        await emit(kind: "rejection", agent: agent, rejection: rejection)
    }
}
