import Foundation
import Synchronization

/// The client's state, driven from two sides: callers (publish, subscribe, request) and
/// libmosquitto's network thread (``MosquittoEvents``). Everything is under one lock; waiters are
/// resumed after it is released. Every wait can be cancelled, which is how timeouts work.
final class MQTTSession: MosquittoEvents {
    /// A suspended caller.
    enum Waiter {
        case done(CheckedContinuation<Void, any Error>)
        case message(CheckedContinuation<MQTTMessage, any Error>)
        case granted(CheckedContinuation<[Int32], any Error>)
        case published(CheckedContinuation<[MQTTError?], any Error>)

        func fail(_ error: any Error) {
            switch self {
            case .done(let continuation): continuation.resume(throwing: error)
            case .message(let continuation): continuation.resume(throwing: error)
            case .granted(let continuation): continuation.resume(throwing: error)
            case .published(let continuation): continuation.resume(throwing: error)
            }
        }

        /// Resumes a waiter for slots.
        func resume() {
            if case .done(let continuation) = self { continuation.resume() }
        }
    }

    /// A QoS 1 message handed to libmosquitto: the publish waiting for it, and its place there.
    struct PendingPublish {
        var waiter: Int
        var index: Int
    }

    /// The messages of one publish still awaiting their PUBACKs, and the outcomes so far.
    struct PublishBatch {
        var remaining: Int
        var results: [MQTTError?]
    }

    /// A request's response: awaited, or arrived before the requester started waiting.
    enum ResponseSlot {
        case pending
        case answered(MQTTMessage)
        case waiting(Int)
    }

    struct State {
        /// Connected, and every subscription renewed (SUBACKs in): what callers wait for.
        var connected = false
        /// Connections the broker accepted, the first and every reconnect.
        var connections = 0
        /// CONNACK received; `connected` follows once the renewing SUBACKs are in.
        var transportUp = false
        /// The renewing SUBSCRIBEs of this connection: message id and filter.
        var renewing: [Int32: String] = [:]
        var lastProblem: String?
        var waiters: [Int: Waiter] = [:]
        /// Ids cancelled before their waiter was stored.
        var cancelled: Set<Int> = []
        var nextID = 0
        var connectionWaiters: [Int] = []
        /// QoS 1 messages awaiting PUBACK, by message id. A caller that gave up leaves them here: each
        /// holds its slot until the broker answers.
        var publishes: [Int32: PendingPublish] = [:]
        /// Publishes awaiting PUBACKs, by waiter id.
        var publishBatches: [Int: PublishBatch] = [:]
        /// QoS 1 messages handed to libmosquitto and not yet acknowledged, plus reserved slots.
        var outstanding = 0
        /// The configured bound, lowered to the broker's Receive Maximum when it announces a smaller one.
        var maximumOutstanding: Int
        let configuredMaximumOutstanding: Int
        /// What the broker announced in its last CONNACK; nil before the first.
        var capabilities: BrokerCapabilities?
        /// Adaptations already reported (each is logged once).
        var reportedAdaptations: Set<String> = []
        /// Publishers waiting for slots, oldest first: waiter id and slots wanted.
        var slotQueue: [(id: Int, count: Int)] = []
        /// SUBSCRIBEs awaiting their SUBACK: message id, waiter id and filter.
        var subscribes: [Int32: (waiter: Int, filter: String)] = [:]
        /// Callers of SUBSCRIBEs cut off by a lost connection, by filter: answered by the renewal's SUBACK.
        var awaitingRenewal: [String: [Int]] = [:]
        /// Every subscription made, renewed on each connection.
        var subscriptions: [String: MQTTQoS] = [:]
        var requests: [Data: ResponseSlot] = [:]
        /// Topics that only carry responses: a message there without a matching request is dropped.
        var responseTopics: Set<String> = []
        var unmatchedResponses = 0
        var isShutdown = false

        mutating func makeID() -> Int {
            nextID += 1
            return nextID
        }

        /// Marks the session usable and hands back the callers waiting for that.
        mutating func becomeReady() -> [Waiter] {
            connected = true
            defer { connectionWaiters = [] }
            return connectionWaiters.compactMap { waiters.removeValue(forKey: $0) }
        }

        /// Records that the connection is gone. A SUBSCRIBE still awaiting its SUBACK gets none on this
        /// connection: its filter is renewed on the next one, and its caller gets that renewal's answer
        /// (granted or refused), never a grant the broker did not give, and never an endless wait.
        mutating func goDown() {
            connected = false
            transportUp = false
            renewing = [:]
            for pending in subscribes.values { awaitingRenewal[pending.filter, default: []].append(pending.waiter) }
            subscribes = [:]
        }

        /// Frees `count` slots of the outgoing bound and hands the room to the waiting publishers, oldest
        /// first; returns those to resume.
        mutating func releaseSlots(_ count: Int) -> [Waiter] {
            outstanding -= count
            var granted: [Waiter] = []
            while let head = slotQueue.first {
                guard let waiter = waiters[head.id] else {
                    slotQueue.removeFirst()  // cancelled while waiting
                    continue
                }
                guard outstanding == 0 || outstanding + head.count <= maximumOutstanding else { break }
                slotQueue.removeFirst()
                waiters[head.id] = nil
                outstanding += head.count
                granted.append(waiter)
            }
            return granted
        }
    }

    let state: Mutex<State>
    let maximumPendingPublishes: Int
    let inbox = MQTTInbox()
    private let onConnectionChange: @Sendable (ConnectionChange) -> Void

    enum ConnectionChange: Sendable {
        case connected(sessionPresent: Bool)
        case failed(MQTTError)
        case lost(MQTTError)
        /// A subscription renewed on (re)connection was refused by the broker and is dropped.
        case subscriptionRefused(MQTTError)
        /// The client adapted to what the broker announced (reported once per adaptation).
        case adapted(String)
    }

    init(maximumPendingPublishes: Int, onConnectionChange: @escaping @Sendable (ConnectionChange) -> Void) {
        self.maximumPendingPublishes = max(1, maximumPendingPublishes)
        self.state = Mutex(
            State(maximumOutstanding: self.maximumPendingPublishes, configuredMaximumOutstanding: self.maximumPendingPublishes))
        self.onConnectionChange = onConnectionChange
    }

    // MARK: Suspending callers

    /// Suspends until resumed through the waiter registered by `register`, or cancelled. `register`
    /// runs under the lock and returns false if the result is already known (it then resumes itself).
    func suspend<T>(
        _ wrap: @escaping (CheckedContinuation<T, any Error>) -> Waiter,
        register: @escaping (inout State, Int, CheckedContinuation<T, any Error>) -> Void
    ) async throws -> T {
        let id = state.withLock { $0.makeID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let failure = state.withLock { state -> (any Error)? in
                    if state.cancelled.remove(id) != nil { return CancellationError() }
                    if state.isShutdown { return MQTTError.shutDown }
                    register(&state, id, continuation)
                    return nil
                }
                if let failure { continuation.resume(throwing: failure) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                let waiter = state.waiters.removeValue(forKey: id)
                if waiter == nil { state.cancelled.insert(id) }
                return waiter
            }
            waiter?.fail(CancellationError())
        }
    }

    func waitUntilConnected() async throws {
        try await suspend(Waiter.done) { state, id, continuation in
            if state.connected {
                continuation.resume()
            } else {
                state.waiters[id] = .done(continuation)
                state.connectionWaiters.append(id)
            }
        }
    }

    /// Waits for room for `count` messages (at most ``maximumPendingPublishes``) under the outgoing
    /// bound and takes it. First come, first served.
    func acquireSlots(_ count: Int) async throws {
        try await suspend(Waiter.done) { state, id, continuation in
            if state.slotQueue.isEmpty, state.outstanding == 0 || state.outstanding + count <= state.maximumOutstanding {
                state.outstanding += count
                continuation.resume()
            } else {
                state.waiters[id] = .done(continuation)
                state.slotQueue.append((id, count))
            }
        }
    }

    func releaseSlots(_ count: Int) {
        state.withLock { $0.releaseSlots(count) }.forEach { $0.resume() }
    }

    /// Raised inside ``publishAndWait(_:)`` when the connection is not up: the caller waits for it and
    /// tries again.
    struct NotConnected: Error {}

    /// Hands `count` QoS 1 messages to libmosquitto (`send` with each index, under the lock so that no
    /// PUBACK can overtake its registration), then waits for the broker's acknowledgement of every
    /// one. Returns by index nil for acknowledged messages and the error for refused ones and those
    /// libmosquitto did not take (their slots are released here). `handedOver` runs, under the lock,
    /// once the messages are libmosquitto's: from then on the slots are released by the PUBACKs, even
    /// if the wait is cancelled.
    ///
    /// Only while connected: libmosquitto 2.0 resends an unacknowledged message after a reconnect only
    /// if it was queued before the reconnect began; one queued while a reconnect is under way waits
    /// for a PUBACK that never comes. Disconnects are recorded under the same lock, so a message
    /// handed over here is always queued before the next reconnect.
    func publishAndWait(
        count: Int, handedOver: @escaping () -> Void, _ send: @escaping (Int) throws(MQTTError) -> Int32
    ) async throws -> [MQTTError?] {
        try await suspend(Waiter.published) { state, id, continuation in
            guard state.connected else {
                continuation.resume(throwing: NotConnected())
                return
            }
            handedOver()
            var batch = PublishBatch(remaining: 0, results: Array(repeating: nil, count: count))
            for index in 0..<count {
                do throws(MQTTError) {
                    let messageID = try send(index)
                    state.publishes[messageID] = PendingPublish(waiter: id, index: index)
                    batch.remaining += 1
                } catch {
                    batch.results[index] = error
                }
            }
            // Resumed under the lock: resuming only schedules the tasks.
            state.releaseSlots(count - batch.remaining).forEach { $0.resume() }
            if batch.remaining == 0 {
                continuation.resume(returning: batch.results)
            } else {
                state.publishBatches[id] = batch
                state.waiters[id] = .published(continuation)
            }
        }
    }

    func subscribeAndWait(_ filter: String, qos: MQTTQoS, _ send: @escaping () throws(MQTTError) -> Int32)
        async throws -> [Int32]
    {
        try await suspend(Waiter.granted) { state, id, continuation in
            state.subscriptions[filter] = qos
            guard state.transportUp else {
                // Sent, and acknowledged, on the next connection.
                continuation.resume(returning: [qos.rawValue])
                return
            }
            do {
                state.subscribes[try send()] = (id, filter)
                state.waiters[id] = .granted(continuation)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Registers interest in a response before the request is published.
    func expectResponse(_ correlation: Data, on topic: String) {
        state.withLock { state in
            state.requests[correlation] = .pending
            state.responseTopics.insert(topic)
        }
    }

    func forgetResponse(_ correlation: Data) {
        state.withLock { _ = $0.requests.removeValue(forKey: correlation) }
    }

    func waitForResponse(_ correlation: Data) async throws -> MQTTMessage {
        defer { forgetResponse(correlation) }
        return try await suspend(Waiter.message) { state, id, continuation in
            if case .answered(let message) = state.requests[correlation] {
                continuation.resume(returning: message)
            } else {
                state.requests[correlation] = .waiting(id)
                state.waiters[id] = .message(continuation)
            }
        }
    }

    // MARK: Events from the network thread

    /// The outgoing bound in force and what the broker announced.
    var currentMaximumOutstanding: Int { state.withLock { $0.maximumOutstanding } }
    var capabilities: BrokerCapabilities? { state.withLock { $0.capabilities } }

    /// The filter to subscribe to on this broker: a `$share/<group>/<filter>` becomes `<filter>` where the
    /// broker has no shared subscriptions (every subscriber then gets every message).
    func effectiveFilter(_ filter: String) -> String {
        state.withLock { state in
            guard state.capabilities?.sharedSubscriptionAvailable == false else { return filter }
            return Self.unshared(filter)
        }
    }

    static func unshared(_ filter: String) -> String {
        guard filter.hasPrefix("$share/") else { return filter }
        let rest = filter.dropFirst("$share/".count)
        guard let slash = rest.firstIndex(of: "/") else { return filter }
        return String(rest[rest.index(after: slash)...])
    }

    func didConnect(reasonCode: Int32, sessionPresent: Bool, capabilities: BrokerCapabilities)
        -> [(filter: String, qos: MQTTQoS)]
    {
        guard reasonCode == 0 else {
            let error = MQTTError.refused("connect", reasonCode: reasonCode)
            state.withLock { $0.lastProblem = error.description }
            onConnectionChange(.failed(error))
            return []
        }
        var adaptations: [String] = []
        let renew = state.withLock { state in
            state.transportUp = true
            state.connections += 1
            state.lastProblem = nil
            state.capabilities = capabilities
            state.maximumOutstanding = min(state.configuredMaximumOutstanding, capabilities.receiveMaximum)
            if state.maximumOutstanding < state.configuredMaximumOutstanding {
                adaptations.append(
                    "at most \(state.maximumOutstanding) unacknowledged publishes (the broker's Receive Maximum)")
            }
            if !capabilities.sharedSubscriptionAvailable {
                // A `$share/` SUBSCRIBE would be refused (ejabberd disconnects with 0x9E): subscribe plainly.
                for filter in state.subscriptions.keys where filter.hasPrefix("$share/") {
                    let plain = Self.unshared(filter)
                    state.subscriptions[plain] = state.subscriptions.removeValue(forKey: filter)
                    if let callers = state.awaitingRenewal.removeValue(forKey: filter) {
                        state.awaitingRenewal[plain, default: []] += callers
                    }
                    adaptations.append("no shared subscriptions: subscribing to \(plain) instead of \(filter)")
                }
            }
            adaptations = adaptations.filter { state.reportedAdaptations.insert($0).inserted }
            // Renewed even when the broker says it kept the session: mosquitto 2.0 does not restore
            // shared ($share/) subscriptions from its persistence file, and SUBSCRIBE is idempotent.
            let renewing = Set(state.subscriptions.keys)
            return renewing.compactMap { filter in state.subscriptions[filter].map { (filter, $0) } }
        }
        onConnectionChange(.connected(sessionPresent: sessionPresent))
        for adaptation in adaptations { onConnectionChange(.adapted(adaptation)) }
        return renew
    }

    func didRenewSubscriptions(_ renewed: [(messageID: Int32, filter: String)]) {
        let waiters = state.withLock { state -> [Waiter] in
            state.renewing = Dictionary(renewed.map { ($0.messageID, $0.filter) }) { _, last in last }
            return state.renewing.isEmpty ? state.becomeReady() : []
        }
        for case .done(let waiter) in waiters { waiter.resume() }
    }

    func didDisconnect(reasonCode: Int32) {
        let wasConnected = state.withLock { state in
            defer { state.goDown() }
            return state.connected
        }
        // libmosquitto passes the broker's DISCONNECT reason (>= 0x80) or, for a connection that just
        // broke, one of its own error numbers.
        if wasConnected, reasonCode != 0 {
            let error =
                reasonCode >= 0x80
                ? MQTTError.refused("connection", reasonCode: reasonCode) : MQTTError.library(reasonCode, "connection")
            onConnectionChange(.lost(error))
        }
    }

    func didFailToConnect(_ error: MQTTError) {
        let wasConnected = state.withLock { state in
            state.lastProblem = error.description
            defer { state.goDown() }
            return state.transportUp
        }
        onConnectionChange(wasConnected ? .lost(error) : .failed(error))
    }

    func didPublish(messageID: Int32, reasonCode: Int32) {
        let (completed, granted) = state.withLock { state -> ((Waiter, [MQTTError?])?, [Waiter]) in
            // QoS 0 publishes are reported too; they hold no slot and have no entry.
            guard let entry = state.publishes.removeValue(forKey: messageID) else { return (nil, []) }
            let granted = state.releaseSlots(1)
            if reasonCode >= 0x80 {
                let refusal = MQTTError.refused("publish", reasonCode: reasonCode)
                state.publishBatches[entry.waiter]?.results[entry.index] = refusal
            }
            state.publishBatches[entry.waiter]?.remaining -= 1
            guard let batch = state.publishBatches[entry.waiter], batch.remaining == 0 else { return (nil, granted) }
            state.publishBatches[entry.waiter] = nil
            // No waiter: the caller gave up.
            return (state.waiters.removeValue(forKey: entry.waiter).map { ($0, batch.results) }, granted)
        }
        granted.forEach { $0.resume() }
        if let (waiter, results) = completed, case .published(let continuation) = waiter {
            continuation.resume(returning: results)
        }
    }

    /// A SUBACK. A refused filter (reason >= 0x80, e.g. 135 not authorized) is dropped from the
    /// subscriptions renewed on every connection: the caller of ``MQTTClient/subscribe(_:qos:)`` gets the
    /// error, and a refused renewal is reported through ``ConnectionChange/subscriptionRefused(_:)``.
    func didSubscribe(messageID: Int32, grantedQoS: [Int32]) {
        let code = grantedQoS.first ?? 0x80
        let (answered, ready, refusedRenewal) = state.withLock { state -> ([Waiter], [Waiter], MQTTError?) in
            if let filter = state.renewing.removeValue(forKey: messageID) {
                var refusal: MQTTError?
                if code >= 0x80 {
                    state.subscriptions[filter] = nil
                    refusal = MQTTError.refused("subscribe to \(filter)", reasonCode: code)
                    state.lastProblem = refusal?.description
                }
                let callers = (state.awaitingRenewal.removeValue(forKey: filter) ?? []).compactMap {
                    state.waiters.removeValue(forKey: $0)
                }
                return (callers, state.renewing.isEmpty ? state.becomeReady() : [], refusal)
            }
            guard let pending = state.subscribes.removeValue(forKey: messageID) else { return ([], [], nil) }
            if code >= 0x80 { state.subscriptions[pending.filter] = nil }
            return (state.waiters.removeValue(forKey: pending.waiter).map { [$0] } ?? [], [], nil)
        }
        if let refusedRenewal { onConnectionChange(.subscriptionRefused(refusedRenewal)) }
        for case .done(let continuation) in ready { continuation.resume() }
        for case .granted(let continuation) in answered { continuation.resume(returning: grantedQoS) }
    }

    func didReceive(_ message: MQTTMessage) {
        enum Route {
            case answer(Waiter?)
            case drop
            case deliver
        }
        let route = state.withLock { state -> Route in
            if let correlation = message.properties.correlationData, let slot = state.requests[correlation] {
                switch slot {
                case .pending:
                    state.requests[correlation] = .answered(message)
                    return .answer(nil)
                case .waiting(let id):
                    state.requests.removeValue(forKey: correlation)
                    return .answer(state.waiters.removeValue(forKey: id))
                case .answered:
                    return .drop
                }
            }
            if state.responseTopics.contains(message.topic) {
                state.unmatchedResponses += 1
                return .drop
            }
            return .deliver
        }
        switch route {
        case .answer(let waiter):
            if case .message(let continuation) = waiter { continuation.resume(returning: message) }
        case .drop:
            break
        case .deliver:
            inbox.append(message)
        }
    }

    // MARK: Shutdown

    /// Fails every waiter with ``MQTTError/shutDown`` and ends the inbound stream.
    func shutdown() {
        let waiters = state.withLock { state in
            state.isShutdown = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.fail(MQTTError.shutDown) }
        inbox.finish()
    }
}
