import EdgeProofCore
import EdgeProofMQTT
import Foundation
import ServiceLifecycle
import Synchronization

/// Several brokers as one transport, for a collector that serves partitioned brokers (`brokers:`):
/// agents are pinned to one broker each, and one collector stores what arrives from all of them.
///
/// Subscriptions go to every broker; messages from all of them arrive on ``messages``, in order per
/// broker. A publish on an agent's topic (`agents/{agent}/…`: a nonce, a receipt, a rejection) goes to
/// the broker that agent's last message came from, so each answer takes the way its request came; a
/// publish anywhere else (status, events) goes to every broker. Nonces work across brokers because
/// the collector's nonce key is one, and its replay cache is one for all of them.
///
/// Run it as a service between the brokers' clients and the collector (``ComposedService``); it
/// forwards what each client receives until they end.
public final class PartitionedTransport: MQTTTransport, Service {
    public let links: [any MQTTTransport]
    let topics: TopicTree
    public let messages: MQTTMessages
    private let feed: MQTTMessages.Continuation
    /// The broker (index in ``links``) each agent was last heard on.
    private let homes = Mutex<[String: Int]>([:])

    public init(links: [any MQTTTransport], topics: TopicTree) {
        precondition(!links.isEmpty, "a partitioned transport needs at least one broker")
        self.links = links
        self.topics = topics
        (messages, feed) = MQTTMessages.makeStream()
    }

    /// Forwards every broker's messages, noting which broker each agent is on, until graceful shutdown
    /// (or cancellation, or the clients ending).
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for (index, link) in links.enumerated() {
                group.addTask {
                    // Until graceful shutdown: it comes after the collector's (which stops first) and
                    // before the clients'.
                    for await batch in link.messages.batches.cancelOnGracefulShutdown() {
                        for message in batch {
                            if let (_, agent) = self.topics.parse(message.topic) {
                                self.homes.withLock { $0[agent] = index }
                            }
                            self.feed.yield(message)
                        }
                    }
                }
            }
        }
        feed.finish()
    }

    /// The brokers a message on `topic` goes to.
    func destinations(of topic: String) -> [Int] {
        if let (_, agent) = topics.parse(topic), let home = homes.withLock({ $0[agent] }) {
            return [home]
        }
        return Array(links.indices)
    }

    public var isConnected: Bool { links.allSatisfy(\.isConnected) }

    public func waitUntilConnected(timeout: Duration) async throws {
        for link in links { try await link.waitUntilConnected(timeout: timeout) }
    }

    public func publish(_ message: MQTTMessage) async throws {
        for index in destinations(of: message.topic) { try await links[index].publish(message) }
    }

    /// Each message to its brokers, one batch per broker; a message sent to several brokers fails if it
    /// failed on any.
    public func publish(contentsOf messages: [MQTTMessage]) async throws -> [MQTTError?] {
        var byLink: [Int: [Int]] = [:]
        for (position, message) in messages.enumerated() {
            for index in destinations(of: message.topic) { byLink[index, default: []].append(position) }
        }
        var results = [MQTTError?](repeating: nil, count: messages.count)
        for (index, positions) in byLink.sorted(by: { $0.key < $1.key }) {
            let outcomes = try await links[index].publish(contentsOf: positions.map { messages[$0] })
            for (position, outcome) in zip(positions, outcomes) where outcome != nil {
                results[position] = outcome
            }
        }
        return results
    }

    @discardableResult
    public func subscribe(_ filter: String, qos: MQTTQoS) async throws -> Int32 {
        var granted = qos.rawValue
        for link in links { granted = min(granted, try await link.subscribe(filter, qos: qos)) }
        return granted
    }

    /// A request goes where the message's agent lives (the first broker if unknown).
    public func request(_ message: MQTTMessage, timeout: Duration) async throws -> MQTTMessage {
        try await links[destinations(of: message.topic).first ?? 0].request(message, timeout: timeout)
    }
}
