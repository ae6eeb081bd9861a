import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// Verified envelopes: check, store durably, then receipt.
extension Collector {
    /// How many times (10 ms apart) a copy waits for its first copy's write to end.
    static let inProgressWaits = 300

    /// Checks an envelope from `verified/{agent}/metrics` (see ``EnvelopeIntake``), appends the
    /// record, and only after its batch's fsync sends the receipt.
    func receiveEnvelope(_ message: MQTTMessage, agent: String, client: MQTTClient) async {
        let receivedAt = Date()
        let accepted: EnvelopeIntake.Accepted
        var verdict = intake.check(
            message.payload, topic: message.topic, agent: agent, allowlist: currentAllowlist, receivedAt: receivedAt)
        // A copy of an envelope whose first copy is being written right now waits for that write (a
        // few milliseconds), so that it gets the answer of the outcome: stored already, or stored now.
        var waits = 0
        while case .inProgress = verdict, waits < Self.inProgressWaits {
            waits += 1
            try? await Task.sleep(for: .milliseconds(10))
            verdict = intake.check(
                message.payload, topic: message.topic, agent: agent, allowlist: currentAllowlist, receivedAt: receivedAt)
        }
        switch verdict {
        case .accepted(let ready):
            accepted = ready
        case .rejected(let failure):
            await reject(failure, agent: agent, correlationData: nil, client: client)
            return
        case .storedAlready(let failure):
            // The agent resent an envelope this collector has: it missed the receipt. Nothing is
            // stored again; the answer tells the agent (only collectors may publish on its topics).
            count("duplicates")
            await reject(failure, agent: agent, correlationData: nil, client: client)
            return
        case .inProgress:
            // The first copy's write is still not done (a stuck disk): its receipt answers both.
            count("duplicates")
            return
        }

        let envelope = accepted.envelope
        do {
            try await records.append(accepted.recordLine)
        } catch {
            // Not stored, so not used: the agent gets no receipt and resends the same envelope.
            intake.notStored(accepted)
            await storeFailed(envelope, agent: agent, problem: "records: \(error)", client: client)
            return
        }
        intake.stored(accepted)
        await storeSucceeded(client)

        count("accepted")
        let storedAt = Timestamp.string(from: Date())
        let receipt = Receipt(nonce: envelope.claims.nonce, collector: configuration.id, storedAt: storedAt)
        if let payload = try? Self.encode(receipt) {
            await publish(MQTTMessage(topic: topics.agentReceipts(agent), payload: payload), on: client)
        }
        await emit(
            kind: "accepted", agent: agent,
            details: [
                "nonce": .string(envelope.claims.nonce), "kid": .string(envelope.header.keyID.hex),
                "samples": .number(Double(envelope.claims.metrics.samples.count)), "stored_at": .string(storedAt),
            ],
            client: client)
    }

    /// A durable write failed: no receipt (the agent retries), an error in the log, an event.
    private func storeFailed(_ envelope: SignedEnvelope, agent: String, problem: String, client: MQTTClient) async {
        count("store_failed")
        let first = storageProblem.withLock { current in
            defer { current = problem }
            return current == nil
        }
        if first {
            // Reported once per outage, in the retained status too: monitoring sees that this
            // collector sends no receipts until it can write again.
            await publish(statusMessage(.degraded), on: client)
        }
        logger.error(
            "cannot store an accepted envelope; no receipt sent",
            metadata: ["agent": "\(agent)", "nonce": "\(envelope.claims.nonce)", "error": "\(problem)"])
        await emit(
            kind: "store_failed", agent: agent,
            details: ["nonce": .string(envelope.claims.nonce), "error": .string(problem)], client: client)
    }

    /// A durable write worked: ends a storage outage, if there was one, in the status and events.
    private func storeSucceeded(_ client: MQTTClient) async {
        guard let ended = storageProblem.withLock({ current in
            defer { current = nil }
            return current
        }) else { return }
        logger.notice("records can be written again; receipts resume", metadata: ["was": "\(ended)"])
        await publish(statusMessage(.online), on: client)
        await emit(kind: "store_recovered", details: ["was": .string(ended)], client: client)
    }

    /// Sends the aligned rejection to the agent (with the request's correlation data for a nonce
    /// request), publishes and records a `rejection` event, and counts it.
    func reject(_ failure: ValidationFailure, agent: String, correlationData: Data?, client: MQTTClient) async {
        count("rejected")
        count("rejected.\(failure.reason.code)")
        logger.notice(
            "rejected", metadata: ["agent": "\(agent)", "reason": "\(failure.reason.code)", "error": "\(failure.message)"])
        let rejection = Rejection(failure, rejectedBy: .collector, at: Date())
        if let payload = try? Self.encode(rejection) {
            var properties = MQTTProperties()
            properties.correlationData = correlationData
            await publish(
                MQTTMessage(topic: topics.agentRejections(agent), payload: payload, properties: properties), on: client)
        }
        await emit(kind: "rejection", agent: agent, rejection: rejection, client: client)
    }
}
