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

        let fresh: Bool
        do {
            fresh = try replayCache.consume(nonce, now: receivedAt)
        } catch {
            await storeFailed(envelope, agent: agent, problem: "replay journal: \(error)", client: client)
            return
        }
        guard fresh else {
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
            // Not stored, so not consumed: the agent gets no receipt and retries the same envelope.
            do {
                try replayCache.release(nonce.id)
            } catch {
                logger.error("cannot release the nonce of an unstored envelope", metadata: ["error": "\(error)"])
            }
            await storeFailed(envelope, agent: agent, problem: "records: \(error)", client: client)
            return
        }

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
        logger.error(
            "cannot store an accepted envelope; no receipt sent",
            metadata: ["agent": "\(agent)", "nonce": "\(envelope.claims.nonce)", "error": "\(problem)"])
        await emit(
            kind: "store_failed", agent: agent,
            details: ["nonce": .string(envelope.claims.nonce), "error": .string(problem)], client: client)
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
