import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// Trust events, publishing and encoding.
extension Collector {
    /// Publishes a trust event on `events/collector/{id}` and appends it to the events file.
    func emit(
        kind: String, agent: String? = nil, rejection: Rejection? = nil, details: [String: JSONValue] = [:]
    ) async {
        await emit([event(kind: kind, agent: agent, rejection: rejection, details: details)])
    }

    func event(
        kind: String, agent: String? = nil, rejection: Rejection? = nil, details: [String: JSONValue] = [:]
    ) -> TrustEvent {
        TrustEvent(
            timestamp: Timestamp.string(from: Date()), component: "collector", id: configuration.id, kind: kind,
            agentName: agent, rejection: rejection, details: details)
    }

    /// Appends trust events to the events file (one hand-over to its writer) and publishes them on
    /// `events/collector/{id}`, together.
    func emit(_ events: [TrustEvent]) async {
        let topic = topics.events(component: "collector", id: configuration.id)
        let messages = events.compactMap { event -> MQTTMessage? in
            guard let payload = try? event.jsonData() else { return nil }
            // `accepted` comes once per stored envelope: routine, and every one is in the events file,
            // so it goes at QoS 0 and holds nothing up; every other event is QoS 1.
            return MQTTMessage(
                topic: topic, payload: payload, qos: event.kind == "accepted" ? .atMostOnce : .atLeastOnce)
        }
        self.events.appendWithoutWaiting(lines: messages.map(\.payload))
        await publish(messages)
    }

    /// Publishes (QoS 1: and waits for the broker); a failure is logged and counted, never thrown.
    func publish(_ message: MQTTMessage) async {
        await publish([message])
    }

    /// Publishes the messages together (QoS 1: and waits for the broker); failures are logged and
    /// counted, never thrown.
    func publish(_ messages: [MQTTMessage]) async {
        guard !messages.isEmpty else { return }
        let failures: [(any Error)?]
        do {
            failures = try await client.publish(contentsOf: messages)
        } catch {
            failures = Array(repeating: error, count: messages.count)
        }
        for (message, failure) in zip(messages, failures) {
            guard let failure else { continue }
            count("publish_failed")
            logger.warning("publish failed", metadata: ["topic": "\(message.topic)", "error": "\(failure)"])
        }
    }

    /// Adds one to a status counter.
    func count(_ name: String) {
        metrics.count(name)
    }

    /// Compact JSON with sorted keys, slashes unescaped.
    static func encode(_ value: some Encodable) throws -> Data {
        try WireJSON.encode(value)
    }
}
