import Foundation

/// What a service needs of an MQTT connection. ``MQTTClient`` implements it over the broker; a service
/// takes `any MQTTTransport` in its init, so that its logic can be tested with an in-memory transport
/// and so that the executable composes the client as a service of its own, listed first in the
/// `ServiceGroup` (see `MQTTClient.run()`).
public protocol MQTTTransport: Sendable {
    /// Every message received on the subscriptions (single consumer).
    var messages: MQTTMessages { get }
    var isConnected: Bool { get }
    /// Waits until connected and subscribed; on timeout the ``MQTTError`` names the last problem.
    func waitUntilConnected(timeout: Duration) async throws
    /// QoS 1: returns after the broker's acknowledgement; throws when it refused.
    func publish(_ message: MQTTMessage) async throws
    /// Publishes together; per message nil (published) or the error.
    func publish(contentsOf messages: [MQTTMessage]) async throws -> [MQTTError?]
    /// Subscribes (renewed on every connection) and returns the granted QoS.
    @discardableResult
    func subscribe(_ filter: String, qos: MQTTQoS) async throws -> Int32
    /// MQTT v5 request/response: the message that answers `message` on its response topic.
    func request(_ message: MQTTMessage, timeout: Duration) async throws -> MQTTMessage
}

extension MQTTTransport {
    @discardableResult
    public func subscribe(_ filter: String) async throws -> Int32 {
        try await subscribe(filter, qos: .atLeastOnce)
    }
}

extension MQTTClient: MQTTTransport {}
