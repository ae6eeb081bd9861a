import EdgeProofMQTT
import Foundation
import Synchronization

/// An ``MQTTTransport`` without a broker: what a service publishes is recorded, what a test delivers
/// arrives on ``messages``. Always connected; every publish succeeds.
final class InMemoryTransport: MQTTTransport {
    let messages: MQTTMessages
    private let inbound: MQTTMessages.Continuation
    private let state = Mutex<(published: [MQTTMessage], subscriptions: [String])>(([], []))

    init() {
        (messages, inbound) = MQTTMessages.makeStream()
    }

    /// Hands `message` to the service as if the broker delivered it.
    func deliver(_ message: MQTTMessage) {
        inbound.yield(message)
    }

    var published: [MQTTMessage] { state.withLock { $0.published } }
    var subscriptions: [String] { state.withLock { $0.subscriptions } }

    func published(on topic: String) -> [MQTTMessage] {
        published.filter { $0.topic == topic }
    }

    var isConnected: Bool { true }

    func waitUntilConnected(timeout: Duration) async throws {}

    func publish(_ message: MQTTMessage) async throws {
        state.withLock { $0.published.append(message) }
    }

    func publish(contentsOf messages: [MQTTMessage]) async throws -> [MQTTError?] {
        state.withLock { $0.published += messages }
        return Array(repeating: nil, count: messages.count)
    }

    func subscribe(_ filter: String, qos: MQTTQoS) async throws -> Int32 {
        state.withLock { $0.subscriptions.append(filter) }
        return qos.rawValue
    }

    func request(_ message: MQTTMessage, timeout: Duration) async throws -> MQTTMessage {
        throw MQTTError.shutDown  // nothing answers in memory
    }
}
