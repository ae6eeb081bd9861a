import Foundation

/// MQTT quality of service. EdgeProof uses at-least-once everywhere except where losing a message
/// is harmless.
public enum MQTTQoS: Int32, Sendable, Hashable {
    case atMostOnce = 0
    case atLeastOnce = 1
}

/// One MQTT v5 user property. Order and duplicates are significant in MQTT, so properties are a
/// list, not a dictionary.
public struct MQTTUserProperty: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The MQTT v5 publish properties EdgeProof uses.
public struct MQTTProperties: Sendable, Hashable {
    public var userProperties: [MQTTUserProperty]
    /// Where a responder should answer (request/response).
    public var responseTopic: String?
    /// Opaque bytes that tie a response to its request.
    public var correlationData: Data?
    /// Seconds after which the broker discards the message if it has not been delivered.
    public var messageExpiryInterval: UInt32?
    public var contentType: String?

    public init(
        userProperties: [MQTTUserProperty] = [], responseTopic: String? = nil, correlationData: Data? = nil,
        messageExpiryInterval: UInt32? = nil, contentType: String? = nil
    ) {
        self.userProperties = userProperties
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.messageExpiryInterval = messageExpiryInterval
        self.contentType = contentType
    }

    /// The first user property called `name`.
    public func userProperty(_ name: String) -> String? {
        userProperties.first { $0.name == name }?.value
    }

    public var isEmpty: Bool { self == MQTTProperties() }
}

/// A message to publish, or one received.
public struct MQTTMessage: Sendable, Hashable {
    public var topic: String
    public var payload: Data
    public var qos: MQTTQoS
    public var retain: Bool
    public var properties: MQTTProperties

    public init(
        topic: String, payload: Data, qos: MQTTQoS = .atLeastOnce, retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}
