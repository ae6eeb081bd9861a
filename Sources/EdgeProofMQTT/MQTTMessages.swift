import Synchronization

/// Every message a client received on its subscriptions, for one consumer: one at a time
/// (`for await message in client.messages`), or everything waiting at once (`client.messages.batches`).
///
/// A consumer that keeps up is woken once per message either way. One that falls behind takes the
/// backlog as one batch and is woken once for it, instead of once per message: under load, the
/// wake-ups (libmosquitto's thread → the consumer's task) and not the work were what limited the
/// gateway and the collector.
///
/// Like an `AsyncStream`: unbounded, ends after the client shut down and what arrived before was
/// taken, and ends at once (dropping what is waiting) when the consuming task is cancelled.
public struct MQTTMessages: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    let inbox: MQTTInbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbox: MQTTInbox
        var batch: [MQTTMessage] = []
        var position = 0

        public mutating func next() async -> MQTTMessage? {
            if position == batch.count {
                guard let next = await inbox.take() else { return nil }
                batch = next
                position = 0
            }
            defer { position += 1 }
            return batch[position]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inbox: inbox)
    }

    /// The same messages, in order, as batches of everything that is waiting (never empty).
    public var batches: Batches {
        Batches(inbox: inbox)
    }

    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = [MQTTMessage]
        let inbox: MQTTInbox

        public struct AsyncIterator: AsyncIteratorProtocol {
            let inbox: MQTTInbox

            public mutating func next() async -> [MQTTMessage]? {
                await inbox.take()
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(inbox: inbox)
        }
    }
}

/// Messages received and not yet taken, and the one consumer waiting for them. Filled from
/// libmosquitto's network thread, which only appends and wakes the consumer.
final class MQTTInbox: Sendable {
    private struct State {
        var messages: [MQTTMessage] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    /// Adds a message and wakes the consumer if it waits. Dropped once finished.
    func append(_ message: MQTTMessage) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.messages.append(message)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// No more messages: the consumer takes what is waiting, then the sequence ends.
    func finish() {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }

    /// Everything waiting, or nil once finished and empty. Waits while empty. A cancelled consumer
    /// ends the sequence and drops what is waiting, as `AsyncStream` does.
    func take() async -> [MQTTMessage]? {
        while true {
            let taken = state.withLock { state -> [MQTTMessage]?? in
                if !state.messages.isEmpty {
                    defer { state.messages = [] }
                    return .some(state.messages)
                }
                return state.finished ? .some(nil) : .none
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if !state.messages.isEmpty || state.finished { return true }
                        // A second consumer would take messages from the first one: a programming error.
                        precondition(state.waiter == nil, "MQTTMessages has a single consumer")
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state -> CheckedContinuation<Void, Never>? in
                    state.finished = true
                    state.messages = []
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }
    }
}
