import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// Nonce issuance (MQTT v5 request/response).
extension Collector {
    /// Answers a request from `verified/{agent}/nonce/request` with a nonce bound to the allowlisted
    /// key of `{agent}`. The answer goes only to that agent's own response topic, never to the
    /// request's Response Topic (no reflection), with the request's Correlation Data and a message
    /// expiry of the nonce lifetime. A request above ``NonceRequest/maximumSize``, not strict JSON, or
    /// for an unknown or revoked agent is answered with a rejection on the agent's rejections topic,
    /// with the same correlation data.
    func answerNonceRequest(_ message: MQTTMessage, agent: String) async {
        let arrived = ContinuousClock.now
        let correlation = message.properties.correlationData
        let issued: IssuedNonce
        do throws(ValidationFailure) {
            if let failure = NonceRequest.check(message.payload) { throw failure }
            let allowlist = currentAllowlist
            guard let entry = allowlist.entry(named: agent) else {
                throw ValidationFailure(
                    .agentNotFound, "agent \(agent) is not on the allowlist", details: ["agent_name": .string(agent)])
            }
            let verified = try allowlist.verifyAgent(
                named: agent, keyHash: entry.publicKeyHash, requirement: configuration.trustRequirement, now: Date())
            issued = nonceAuthority.issue(for: verified.entry.publicKeyHash)
        } catch {
            await reject(error, agent: agent, correlationData: correlation)
            return
        }
        if let responseTopic = message.properties.responseTopic, responseTopic != topics.agentNonceResponse(agent) {
            count("nonce.foreign_response_topic_ignored")
            logger.notice(
                "nonce request named a foreign response topic; answering on the agent's own",
                metadata: ["agent": "\(agent)", "response_topic": "\(responseTopic.prefix(200))"])
        }
        guard let payload = try? Self.encode(NonceResponse(issued)) else { return }
        let properties = MQTTProperties(
            correlationData: correlation,
            messageExpiryInterval: UInt32(clamping: configuration.nonceLifetime.components.seconds))
        count("nonces_issued")
        await publish(
            MQTTMessage(topic: topics.agentNonceResponse(agent), payload: payload, properties: properties))
        nonceIssueDuration.record(ContinuousClock.now - arrived)
    }
}
