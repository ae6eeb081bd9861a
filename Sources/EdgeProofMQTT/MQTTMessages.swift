import Synchronization

/// Every message a client received on its subscriptions, for one consumer: one at a time
/// (`for await message in client.messages`), or everything waiting at once (`client.messages.batches`).
///
/// A consumer is woken only when it waits for an empty inbox; one that falls behind takes what is
/// waiting without suspending, and with `batches` takes all of it at once, to handle it together (one
/// publish, one write). Under load, these hand-offs between libmosquitto's thread and tasks, not the
/// work, were what limited the gateway and the collector.
///
/// Like an `AsyncStream`: unbounded, ends after the client shut down and what arrived before was
/// taken, and ends at once (dropping what is waiting) when the consuming task is cancelled. An iterator
/// that is dropped leaves what it did not take to the next one.
public struct MQTTMessages: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    let inbox: MQTTInbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbox: MQTTInbox

        public mutating func next() async -> MQTTMessage? {
            await inbox.takeOne()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inbox: inbox)
    }

    /// Messages received and not taken yet: how far the consumer is behind.
    public var waiting: Int {
        inbox.waiting
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
                await inbox.takeAll()
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(inbox: inbox)
        }
    }
}

extension MQTTMessages {
    /// Feeds an ``MQTTMessages`` sequence by hand, as `AsyncStream.Continuation` does: how a transport
    /// other than ``MQTTClient`` (an in-memory one in tests) delivers what it received.
    public struct Continuation: Sendable {
        let inbox: MQTTInbox

        public func yield(_ message: MQTTMessage) {
            inbox.append(message)
        }

        /// No more messages: the consumer takes what is waiting, then the sequence ends.
        public func finish() {
            inbox.finish()
        }
    }

    /// A sequence and the continuation that feeds it.
    public static func makeStream() -> (messages: MQTTMessages, continuation: Continuation) {
        let inbox = MQTTInbox()
        return (MQTTMessages(inbox: inbox), Continuation(inbox: inbox))
    }
}

/// Messages received and not yet taken, and the one consumer waiting for them. Filled from
/// libmosquitto's network thread, which only appends and wakes the consumer.
final class MQTTInbox: Sendable {
    private struct State {
        /// Waiting from `head` on; taken ones are dropped when the rest is taken.
        var messages: [MQTTMessage] = []
        var head = 0
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false

        var isEmpty: Bool { head == messages.count }

        mutating func takeOne() -> MQTTMessage {
            defer {
                head += 1
                if isEmpty { clear() }
            }
            return messages[head]
        }

        mutating func takeAll() -> [MQTTMessage] {
            defer { clear() }
            return head == 0 ? messages : Array(messages[head...])
        }

        mutating func clear() {
            messages.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    private let state = Mutex(State())

    var waiting: Int {
        state.withLock { $0.messages.count - $0.head }
    }

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

    /// The oldest message waiting, or nil once finished and empty.
    func takeOne() async -> MQTTMessage? {
        await take { $0.takeOne() }
    }

    /// Everything waiting, or nil once finished and empty.
    func takeAll() async -> [MQTTMessage]? {
        await take { $0.takeAll() }
    }

    /// `taking` from what is waiting, or nil once finished and empty. Waits while empty. A cancelled
    /// consumer ends the sequence and drops what is waiting, as `AsyncStream` does.
    private func take<T: Sendable>(_ taking: (inout State) -> T) async -> T? {
        while true {
            let taken = state.withLock { state -> T?? in
                if !state.isEmpty { return .some(taking(&state)) }
                return state.finished ? .some(nil) : .none
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if !state.isEmpty || state.finished { return true }
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
                    state.clear()
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }
    }
}
