import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// An MQTT v5 client over mutual TLS, shared by every EdgeProof component.
///
/// - Connects in the background and keeps reconnecting with backoff; the session is persistent
///   (clean start off, session expiry), and subscriptions are renewed on every connection
///   (``waitUntilConnected(timeout:)`` returns once they are acknowledged).
/// - `publish` of a QoS 1 message returns once the broker acknowledged it, and throws with the
///   broker's reason code when it refused (e.g. 135, not authorized). At most
///   ``MQTTConfiguration/maximumPendingPublishes`` are outstanding; further publishers wait.
/// - ``publish(contentsOf:)`` publishes many messages with one wait for all their acknowledgements.
/// - Every received message arrives on ``messages``, except responses to ``request(_:timeout:)``.
public final class MQTTClient: Sendable {
    public let configuration: MQTTConfiguration
    /// Every message received on this client's subscriptions, one by one or in batches. Single consumer.
    public var messages: MQTTMessages { MQTTMessages(inbox: session.inbox) }
    private let session: MQTTSession
    private let mosquitto: MosquittoClient
    private let started = Atomic<Bool>(false)

    public init(configuration: MQTTConfiguration, logger: Logger = Logger(label: "edgeproof.mqtt")) throws(MQTTError) {
        guard !configuration.clientID.isEmpty else { throw MQTTError.invalidArgument("an MQTT client id is required") }
        self.configuration = configuration
        let endpoint = configuration.addresses.map(\.description).joined(separator: ", ")
        let clientID = configuration.clientID
        session = MQTTSession(maximumPendingPublishes: configuration.maximumPendingPublishes) { change in
            switch change {
            case .connected(let sessionPresent):
                logger.info("connected", metadata: ["broker": "\(endpoint)", "client": "\(clientID)", "session_present": "\(sessionPresent)"])
            case .failed(let error):
                logger.warning("cannot connect; retrying", metadata: ["broker": "\(endpoint)", "client": "\(clientID)", "error": "\(error)"])
            case .lost(let error):
                logger.warning("connection lost; reconnecting", metadata: ["broker": "\(endpoint)", "client": "\(clientID)", "error": "\(error)"])
            case .subscriptionRefused(let error):
                logger.error("subscription refused; dropped", metadata: ["broker": "\(endpoint)", "client": "\(clientID)", "error": "\(error)"])
            case .adapted(let adaptation):
                logger.notice("adapted to the broker", metadata: ["broker": "\(endpoint)", "client": "\(clientID)", "adaptation": "\(adaptation)"])
            }
        }
        mosquitto = try MosquittoClient(configuration: configuration, events: session)
    }

    /// Starts connecting in the background. Idempotent.
    public func start() {
        guard !started.exchange(true, ordering: .sequentiallyConsistent) else { return }
        mosquitto.start()
    }

    /// Disconnects cleanly, stops the network thread and fails every pending call with
    /// ``MQTTError/shutDown``. Unacknowledged QoS 1 messages stay with the broker session only if
    /// they reached it.
    public func shutdown() async {
        if started.load(ordering: .sequentiallyConsistent) {
            await mosquitto.stop()
        }
        session.shutdown()
    }

    /// What the broker announced in its last CONNACK (shared subscriptions, Receive Maximum, Maximum
    /// Packet Size, …); nil before the first connection.
    public var brokerCapabilities: BrokerCapabilities? { session.capabilities }

    public var isConnected: Bool {
        session.state.withLock { $0.connected }
    }

    /// QoS 1 messages handed over and not yet acknowledged by the broker.
    public var outstandingPublishes: Int {
        session.state.withLock { $0.outstanding }
    }

    /// Connections the broker accepted since the client started: the first and every reconnect.
    public var connections: Int {
        session.state.withLock { $0.connections }
    }

    /// Responses that arrived on a response topic without a matching request (dropped).
    public var unmatchedResponses: Int {
        session.state.withLock { $0.unmatchedResponses }
    }

    /// Waits until the client is connected; on timeout the error names the last connection problem.
    public func waitUntilConnected(timeout: Duration) async throws {
        try await withTimeout(timeout, "connect to \(configuration.addresses.map(\.description).joined(separator: " or "))") {
            try await self.session.waitUntilConnected()
        }
    }

    /// Publishes `message`. QoS 1: returns after the broker's PUBACK, waiting for a connection and
    /// for room under the outgoing bound first. QoS 0: returns once queued; fails when disconnected.
    public func publish(_ message: MQTTMessage) async throws {
        try Self.checkTopic(message.topic)
        let outcome =
            message.qos == .atMostOnce
            ? publishAtMostOnce([message])[0] : try await publishAtLeastOnce(count: 1, { _ in message })[0]
        if let outcome { throw outcome }
    }

    /// Publishes every message as ``publish(_:)`` would, but together: QoS 0 messages are queued at
    /// once, QoS 1 messages are handed to libmosquitto in one go and their acknowledgements awaited in
    /// one wait, so the caller is resumed once for the batch instead of once per message. Returns, by
    /// position, nil for a message published (QoS 1: acknowledged) and the error for one that was not
    /// (invalid topic, refused by the broker, not taken by libmosquitto). Throws only when the wait
    /// itself ends (cancellation, ``MQTTError/shutDown``); QoS 1 messages handed over by then can still
    /// reach the broker.
    public func publish(contentsOf messages: [MQTTMessage]) async throws -> [MQTTError?] {
        var results = [MQTTError?](repeating: nil, count: messages.count)
        var atMostOnce: [Int] = []
        var atLeastOnce: [Int] = []
        for (index, message) in messages.enumerated() {
            do throws(MQTTError) {
                try Self.checkTopic(message.topic)
                if message.qos == .atMostOnce { atMostOnce.append(index) } else { atLeastOnce.append(index) }
            } catch {
                results[index] = error
            }
        }
        if !atMostOnce.isEmpty {
            for (index, outcome) in zip(atMostOnce, publishAtMostOnce(atMostOnce.map { messages[$0] })) {
                results[index] = outcome
            }
        }
        if !atLeastOnce.isEmpty {
            let outcomes = try await publishAtLeastOnce(count: atLeastOnce.count) { [atLeastOnce] in
                messages[atLeastOnce[$0]]
            }
            for (index, outcome) in zip(atLeastOnce, outcomes) { results[index] = outcome }
        }
        return results
    }

    /// QoS 0 messages with valid topics: queued with libmosquitto under the session lock (so not while a
    /// disconnect is being recorded); each fails when disconnected.
    private func publishAtMostOnce(_ messages: [MQTTMessage]) -> [MQTTError?] {
        session.state.withLock { _ in
            messages.map { message -> MQTTError? in
                do throws(MQTTError) {
                    _ = try mosquitto.publish(message)
                    return nil
                } catch {
                    return error
                }
            }
        }
    }

    /// QoS 1 messages with valid topics, `count` of them (`message(index)`), handed over in chunks of at
    /// most the outgoing bound, each chunk once there is room for all of it and the client is connected.
    private func publishAtLeastOnce(
        count: Int, _ message: @escaping @Sendable (Int) -> MQTTMessage
    ) async throws -> [MQTTError?] {
        var results = [MQTTError?](repeating: nil, count: count)
        // No more at once than the broker's Receive Maximum allows (libmosquitto would queue the rest).
        let chunkSize = max(1, min(session.maximumPendingPublishes, session.currentMaximumOutstanding))
        for start in stride(from: 0, to: count, by: chunkSize) {
            let chunk = start..<min(count, start + chunkSize)
            try await session.acquireSlots(chunk.count)
            let handedOver = Atomic<Bool>(false)
            do {
                while true {
                    try await session.waitUntilConnected()
                    do {
                        let outcomes = try await session.publishAndWait(
                            count: chunk.count, handedOver: { handedOver.store(true, ordering: .relaxed) }
                        ) { [mosquitto] index throws(MQTTError) -> Int32 in
                            try mosquitto.publish(message(chunk.lowerBound + index))
                        }
                        results.replaceSubrange(chunk, with: outcomes)
                        break
                    } catch is MQTTSession.NotConnected {
                        continue  // the connection dropped after the wait: wait again
                    }
                }
            } catch {
                // Messages libmosquitto took keep their slots until the broker answers.
                if !handedOver.load(ordering: .relaxed) { session.releaseSlots(chunk.count) }
                throw error
            }
        }
        return results
    }

    private static func checkTopic(_ topic: String) throws(MQTTError) {
        guard TopicFilter.isValidTopicName(topic) else {
            throw MQTTError.invalidArgument("cannot publish to \"\(topic)\": not a valid topic name")
        }
    }

    /// Subscribes and returns the QoS the broker granted; throws with the broker's reason code (135, not
    /// authorized, for a filter outside the identity's read rights on the broker in `broker/`) when it
    /// refuses, and the filter is not renewed. Made while disconnected, the subscription is sent on
    /// connection; if the broker refuses it then, it is dropped and logged as an error.
    @discardableResult
    public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce) async throws -> Int32 {
        guard TopicFilter.isValid(filter) else { throw MQTTError.invalidArgument("\"\(filter)\" is not a valid topic filter") }
        // Where the broker has no shared subscriptions, `$share/g/f` is subscribed as `f`.
        let filter = session.effectiveFilter(filter)
        let granted = try await session.subscribeAndWait(filter, qos: qos) { [mosquitto] () throws(MQTTError) -> Int32 in
            try mosquitto.subscribe(filter, qos: qos)
        }
        let code = granted.first ?? 0x80
        if code >= 0x80 { throw MQTTError.refused("subscribe to \(filter)", reasonCode: code) }
        return code
    }

    /// MQTT v5 request/response: publishes `message` with its Response Topic and fresh random
    /// Correlation Data (unless given), and returns the message that comes back on the response
    /// topic with the same correlation data. Messages there with any other correlation data are
    /// dropped and counted in ``unmatchedResponses``. Subscribes to the response topic if needed.
    public func request(_ message: MQTTMessage, timeout: Duration) async throws -> MQTTMessage {
        guard let responseTopic = message.properties.responseTopic else {
            throw MQTTError.invalidArgument("a request needs a response topic")
        }
        let correlation = message.properties.correlationData ?? Self.randomCorrelationData()
        var correlated = message
        correlated.properties.correlationData = correlation
        let request = correlated
        let alreadySubscribed = session.state.withLock { $0.subscriptions[responseTopic] != nil }
        return try await withTimeout(timeout, "request on \(message.topic)") {
            if !alreadySubscribed { try await self.subscribe(responseTopic) }
            self.session.expectResponse(correlation, on: responseTopic)
            do {
                try await self.publish(request)
            } catch {
                self.session.forgetResponse(correlation)
                throw error
            }
            return try await self.session.waitForResponse(correlation)
        }
    }

    private static func randomCorrelationData() -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Runs `body` under ``withTimeout(_:_:_:)``; the timeout error names the last connection problem.
    private func withTimeout<T: Sendable>(
        _ timeout: Duration, _ operation: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        do {
            return try await EdgeProofMQTT.withTimeout(timeout, operation, body)
        } catch let error as TimeoutError {
            throw MQTTError.timedOut(
                error.operation, after: error.limit.seconds, lastProblem: session.state.withLock { $0.lastProblem })
        }
    }
}

extension MQTTClient: Service {
    /// Connects and keeps the connection until graceful shutdown, then disconnects. List the client
    /// first in a `ServiceGroup` so that it stops last, after the services that publish through it.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        await shutdown()
    }
}
