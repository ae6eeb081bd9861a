import EdgeProofCore
import EdgeProofMQTT
import Foundation

/// The gateway's decision for one message, as a pure function of the message, the allowlist and
/// the clock. Cheap: one JSON parse and, in enforce mode, one signature verification per envelope.
struct MessageInspector: Sendable {
    var mode: GatewayMode
    var topics: TopicTree
    var maximumEnvelopeBytes: Int
    var maximumClockSkew: Duration
    var trustRequirement: TrustRequirement

    /// What the gateway does with one message from an agent.
    enum Verdict: Sendable {
        /// Republish this message (to a `verified/` topic).
        case forward(MQTTMessage)
        /// Turn the message away: tell `agent` why (with the request's correlation data, if any).
        case reject(Rejection, agent: String, correlationData: Data?)
        /// Not an agent message the gateway understands (e.g. an invalid agent name in the topic):
        /// dropped with a log line only, since there is no valid agent to answer.
        case drop(String)
    }

    /// Nonce requests are empty or a small JSON object; anything larger is refused in enforce mode.
    static let maximumNonceRequestBytes = NonceRequest.maximumSize

    init(configuration: GatewayConfiguration) {
        mode = configuration.mode
        topics = configuration.topics
        maximumEnvelopeBytes = configuration.maximumEnvelopeBytes
        maximumClockSkew = configuration.maximumClockSkew
        trustRequirement = configuration.trustRequirement
    }

    func inspect(_ message: MQTTMessage, allowlist: Allowlist, now: Date) -> Verdict {
        guard let (kind, agent) = topics.parse(message.topic) else {
            return .drop("topic is not an agent topic of the tree or names an invalid agent")
        }
        switch (kind, mode) {
        case (.agentNonceRequest, .passthrough):
            return .forward(passedThrough(message, to: topics.verifiedNonceRequest(agent)))
        case (.agentMetrics, .passthrough):
            return .forward(passedThrough(message, to: topics.verifiedMetrics(agent)))
        case (.agentNonceRequest, .enforce):
            return inspectNonceRequest(message, agent: agent, allowlist: allowlist, now: now)
        case (.agentMetrics, .enforce):
            return inspectEnvelope(message, agent: agent, allowlist: allowlist, now: now)
        default:
            return .drop("the gateway does not handle \(kind) topics")
        }
    }

    /// Passthrough: the payload and every property, unchanged; QoS 1, never retained.
    private func passedThrough(_ message: MQTTMessage, to topic: String) -> MQTTMessage {
        MQTTMessage(
            topic: topic, payload: message.payload, qos: .atLeastOnce, retain: false, properties: message.properties)
    }

    /// Enforce, nonce request: empty or strict JSON, and the agent on the allowlist and active.
    /// Forwarded with its Response Topic, Correlation Data and Message Expiry only; user properties are
    /// dropped.
    private func inspectNonceRequest(_ message: MQTTMessage, agent: String, allowlist: Allowlist, now: Date) -> Verdict
    {
        let correlation = message.properties.correlationData
        func reject(_ failure: ValidationFailure) -> Verdict {
            .reject(Rejection(failure, rejectedBy: .gateway, at: now), agent: agent, correlationData: correlation)
        }
        if let failure = NonceRequest.check(message.payload) { return reject(failure) }
        guard let entry = allowlist.entry(named: agent) else {
            return reject(
                ValidationFailure(
                    .agentNotFound, "agent \(agent) is not on the allowlist", details: ["agent_name": .string(agent)]))
        }
        guard entry.status == .active else {
            return reject(
                ValidationFailure(.agentRevoked, "agent \(agent) is revoked", details: ["agent_name": .string(agent)]))
        }
        do throws(ValidationFailure) {
            try trustRequirement.check(
                agent: agent, level: entry.trustLevel, attestedAt: allowlist.attestedAt(of: entry), now: now)
        } catch {
            return reject(error)
        }
        let properties = MQTTProperties(
            responseTopic: message.properties.responseTopic, correlationData: correlation,
            messageExpiryInterval: message.properties.messageExpiryInterval)
        return .forward(
            MQTTMessage(
                topic: topics.verifiedNonceRequest(agent), payload: message.payload, qos: .atLeastOnce, retain: false,
                properties: properties))
    }

    /// Enforce, envelope: every check but the nonce (the collector's), in the order of the contract.
    /// Forwarded as the bare envelope: its three JWS members exactly as received, no properties.
    private func inspectEnvelope(_ message: MQTTMessage, agent: String, allowlist: Allowlist, now: Date) -> Verdict {
        var parsed: SignedEnvelope?
        do throws(ValidationFailure) {
            let envelope = try SignedEnvelope(parsing: message.payload, maximumSize: maximumEnvelopeBytes)
            parsed = envelope
            try envelope.checkTopic(agent: agent)
            let (entry, key, _) = try allowlist.verifyAgent(
                named: envelope.claims.agentName, keyHash: envelope.header.keyID, requirement: trustRequirement,
                now: now)
            try envelope.verifySignature(with: key)
            try allowlist.policy.check(
                envelope.claims, agentPlaces: entry.allowedPlaces, agentRequirement: entry.locationRequirements)
            try envelope.checkTimestamp(now: now, skew: maximumClockSkew)
            try envelope.checkProperties(message.properties.userProperties.map { ($0.name, $0.value) })
            return .forward(
                MQTTMessage(
                    topic: topics.verifiedMetrics(agent), payload: envelope.serialized(), qos: .atLeastOnce,
                    retain: false))
        } catch {
            return .reject(Rejection(error.about(parsed), rejectedBy: .gateway, at: now), agent: agent, correlationData: nil)
        }
    }
}
