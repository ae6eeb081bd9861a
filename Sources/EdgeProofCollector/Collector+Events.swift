import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// Trust events, publishing and encoding.
extension Collector {
    /// Publishes a trust event on `events/collector/{id}` and appends it to the events file.
    func emit(
        kind: String, agent: String? = nil, rejection: Rejection? = nil, details: [String: JSONValue] = [:],
        client: MQTTClient
    ) async {
        let event = TrustEvent(
            timestamp: Timestamp.string(from: Date()), component: "collector", id: configuration.id, kind: kind,
            agentName: agent, rejection: rejection, details: details)
        guard let payload = try? Self.encode(event) else { return }
        events.appendWithoutWaiting(payload)
        // `accepted` comes once per stored envelope: routine, and every one is in the events file,
        // so it goes at QoS 0 and holds nothing up; every other event is QoS 1.
        await publish(
            MQTTMessage(
                topic: topics.events(component: "collector", id: configuration.id), payload: payload,
                qos: kind == "accepted" ? .atMostOnce : .atLeastOnce),
            on: client)
    }

    /// Publishes (QoS 1: and waits for the broker); a failure is logged and counted, never thrown.
    func publish(_ message: MQTTMessage, on client: MQTTClient) async {
        do {
            try await client.publish(message)
        } catch {
            count("publish_failed")
            logger.warning("publish failed", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
        }
    }

    /// Adds one to a status counter.
    func count(_ name: String) {
        counters.increment(name)
    }

    /// Compact JSON with sorted keys, slashes unescaped.
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
