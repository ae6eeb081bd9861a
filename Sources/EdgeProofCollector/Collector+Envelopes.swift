import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// Verified envelopes: check, store durably, then receipt.
extension Collector {
    /// Checks an envelope from `verified/{agent}/metrics` in the prototype's order (size and form,
    /// topic, allowlist and key hash, signature, nonce, geography, single use), appends the record,
    /// and only after the durable write sends the receipt.
    func receiveEnvelope(_ message: MQTTMessage, agent: String, client: MQTTClient) async {
        let receivedAt = Date()
        var parsed: SignedEnvelope?
        let envelope: SignedEnvelope
        let nonce: ValidNonce
        do throws(ValidationFailure) {
            envelope = try SignedEnvelope(parsing: message.payload, maximumSize: configuration.maximumEnvelopeBytes)
            parsed = envelope
            try envelope.checkTopic(agent: agent)
            let allowlist = currentAllowlist
            let (entry, key) = try allowlist.verifyAgent(
                named: envelope.claims.agentName, keyHash: envelope.claims.publicKeyHash)
            try envelope.verifySignature(with: key)
            nonce = try nonceAuthority.validate(envelope.claims.nonce, for: envelope.claims.publicKeyHash, now: receivedAt)
            try allowlist.policy.check(envelope.claims.geographicRegion, agentPlaces: entry.allowedPlaces)
        } catch {
            await reject(error.about(parsed), agent: agent, correlationData: nil, client: client)
            return
        }

        switch replayCache.claim(nonce, fingerprint: EnvelopeFingerprint(signature: envelope.signature), now: receivedAt) {
        case .claimed:
            break
        case .alreadyStored(let storedAt):
            // The agent resent an envelope this collector has: it missed the receipt. Nothing is
            // stored again; the answer tells the agent (only collectors may publish on its topics).
            count("duplicates")
            let failure = ValidationFailure(
                .nonceReplayed, "nonce was already used: this envelope is stored already",
                details: [
                    "expires_at": .string(Timestamp.string(from: nonce.expiresAt)),
                    "stored_at": .string(Timestamp.string(from: storedAt)), "collector": .string(configuration.id),
                ])
            await reject(failure.about(envelope), agent: agent, correlationData: nil, client: client)
            return
        case .inProgress:
            // A resend that overtook the first copy: its receipt answers both.
            count("duplicates")
            return
        case .replayed:
            let failure = ValidationFailure(
                .nonceReplayed, "nonce was already used",
                details: ["expires_at": .string(Timestamp.string(from: nonce.expiresAt))])
            await reject(failure.about(envelope), agent: agent, correlationData: nil, client: client)
            return
        }

        let record = StoredRecord(
            envelope: envelope, topic: message.topic, collector: configuration.id,
            receivedAt: Timestamp.string(from: receivedAt))
        do {
            try records.append(line: try Self.encode(record))
        } catch {
            // Not stored, so not used: the agent gets no receipt and resends the same envelope.
            replayCache.release(nonce.id)
            await storeFailed(envelope, agent: agent, problem: "records: \(error)", client: client)
            return
        }
        replayCache.commit(nonce.id, storedAt: Date())
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
