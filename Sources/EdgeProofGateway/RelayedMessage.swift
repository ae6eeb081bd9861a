import EdgeProofCore
import EdgeProofMQTT
import Foundation

/// An MQTT message as the site bridge's queues keep it: the topic on the side it goes to, the payload,
/// and the MQTT v5 properties that cross verbatim (Response Topic retargeted to the other side's tree,
/// Correlation Data, Message Expiry, Content Type, user properties in order).
struct RelayedMessage: Codable, Sendable, Hashable {
    var topic: String
    var payload: Data
    var retain: Bool
    var responseTopic: String?
    var correlationData: Data?
    /// The message's remaining expiry when it was queued, seconds; the time spent in the queue is
    /// subtracted when it is sent, and it is dropped (`expired`) once that reaches zero.
    var messageExpiry: UInt32?
    var contentType: String?
    var userProperties: [[String]]?

    enum CodingKeys: String, CodingKey {
        case topic, payload, retain
        case responseTopic = "response_topic"
        case correlationData = "correlation_data"
        case messageExpiry = "message_expiry_s"
        case contentType = "content_type"
        case userProperties = "user_properties"
    }

    init(_ message: MQTTMessage) {
        topic = message.topic
        payload = message.payload
        retain = message.retain
        responseTopic = message.properties.responseTopic
        correlationData = message.properties.correlationData
        messageExpiry = message.properties.messageExpiryInterval
        contentType = message.properties.contentType
        let user = message.properties.userProperties
        userProperties = user.isEmpty ? nil : user.map { [$0.name, $0.value] }
    }

    /// The message to publish after `waited` in the queue, or nil when its expiry passed meanwhile.
    func message(after waited: TimeInterval) -> MQTTMessage? {
        var expiry = messageExpiry
        if let interval = messageExpiry {
            let remaining = Double(interval) - waited.rounded(.down)
            guard remaining >= 1 else { return nil }
            expiry = UInt32(remaining)
        }
        let user = (userProperties ?? []).compactMap { pair in pair.count == 2 ? MQTTUserProperty(pair[0], pair[1]) : nil }
        return MQTTMessage(
            topic: topic, payload: payload, qos: .atLeastOnce, retain: retain,
            properties: MQTTProperties(
                userProperties: user, responseTopic: responseTopic, correlationData: correlationData,
                messageExpiryInterval: expiry, contentType: contentType))
    }
}

extension TopicTree {
    /// `topic`, which lies under `other`'s prefix, under this tree's prefix instead (the same agent's
    /// topic on the other side of the bridge); nil for a topic outside `other`.
    func retarget(_ topic: String, from other: TopicTree) -> String? {
        guard topic.hasPrefix(other.prefix + "/") else { return nil }
        return prefix + topic.dropFirst(other.prefix.count)
    }
}
