import EdgeProofMQTT
import Foundation
import Synchronization

/// Collects everything a client receives, from one long-lived consumer of its message stream, and waits on it.
/// Make it before subscribing, so that nothing (a retained message) arrives unread.
public final class Inbox: Sendable {
    private let received = Mutex<[MQTTMessage]>([])

    public init(_ client: MQTTClient) {
        let messages = client.messages
        Task { [weak self] in
            for await message in messages { self?.received.withLock { $0.append(message) } }
        }
    }

    /// Everything that arrived, in order.
    public var messages: [MQTTMessage] { received.withLock { $0 } }

    public func messages(on topic: String) -> [MQTTMessage] { messages.filter { $0.topic == topic } }

    /// Waits until `condition` holds for what arrived, or `timeout` passes; returns what arrived.
    @discardableResult
    public func wait(
        timeout: Duration = Poll.patience, until condition: ([MQTTMessage]) -> Bool
    ) async throws -> [MQTTMessage] {
        _ = try await Poll.until(timeout: timeout) { condition(self.messages) }
        return messages
    }

    /// Waits until at least `count` messages arrived, or `timeout` passed; returns what arrived.
    @discardableResult
    public func waitFor(_ count: Int, timeout: Duration = Poll.patience) async throws -> [MQTTMessage] {
        try await wait(timeout: timeout) { $0.count >= count }
    }

    /// Waits for the first message matching `predicate`; nil if none arrived within `timeout`.
    public func first(
        timeout: Duration = Poll.patience, where predicate: (MQTTMessage) -> Bool
    ) async throws -> MQTTMessage? {
        try await wait(timeout: timeout) { $0.contains(where: predicate) }.first(where: predicate)
    }

    /// Waits until `count` messages match `predicate`; returns the matches (fewer on timeout).
    public func all(
        _ count: Int, timeout: Duration = Poll.patience, where predicate: (MQTTMessage) -> Bool
    ) async throws -> [MQTTMessage] {
        try await wait(timeout: timeout) { $0.filter(predicate).count >= count }.filter(predicate)
    }
}
