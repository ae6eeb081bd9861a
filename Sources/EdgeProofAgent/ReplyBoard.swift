import EdgeProofCore
import Synchronization

/// Matches receipts and rejections that arrive on the agent's topics to the envelope waiting for
/// them. A receipt names its nonce; a rejection names it in `details.nonce` when the rejecting
/// component includes it, and otherwise belongs to the envelope in flight (the agent sends one at a
/// time).
final class ReplyBoard: Sendable {
    enum Reply: Sendable {
        case receipt(Receipt)
        case rejection(Rejection)
    }

    private struct State {
        var inFlight: String?
        var answers: [String: Reply] = [:]
        var waiters: [String: CheckedContinuation<Reply?, Never>] = [:]
        /// Waits whose timer fired before the waiter registered.
        var expired: Set<String> = []
    }

    private let state = Mutex(State())

    /// Declares `nonce` the envelope in flight, before it is published.
    func expect(_ nonce: String) {
        state.withLock { state in
            state.inFlight = nonce
            state.answers[nonce] = nil
        }
    }

    /// Forgets `nonce` (timed out, or settled).
    func forget(_ nonce: String) {
        let waiter = state.withLock { state in
            if state.inFlight == nonce { state.inFlight = nil }
            state.answers[nonce] = nil
            return state.waiters.removeValue(forKey: nonce)
        }
        waiter?.resume(returning: nil)
    }

    /// Hands a reply to its envelope; false when nobody is waiting for it.
    @discardableResult
    func deliver(_ reply: Reply, nonce: String?) -> Bool {
        let (waiter, matched) = state.withLock { state -> (CheckedContinuation<Reply?, Never>?, Bool) in
            guard let nonce = nonce ?? state.inFlight, nonce == state.inFlight || state.waiters[nonce] != nil else {
                return (nil, false)
            }
            if let waiter = state.waiters.removeValue(forKey: nonce) { return (waiter, true) }
            state.answers[nonce] = reply
            return (nil, true)
        }
        waiter?.resume(returning: reply)
        return matched
    }

    /// Waits for the reply to `nonce`; nil after `timeout` or on cancellation.
    func wait(for nonce: String, timeout: Duration) async -> Reply? {
        await withTaskGroup(of: Reply?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { state -> Reply?? in
                        if let answer = state.answers.removeValue(forKey: nonce) { return .some(answer) }
                        if state.expired.remove(nonce) != nil || state.inFlight != nonce { return .some(nil) }
                        state.waiters[nonce] = continuation
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                // Timed out or cancelled: release the waiter (a no-op when it was answered).
                let waiter = self.state.withLock { state in
                    let waiter = state.waiters.removeValue(forKey: nonce)
                    if waiter == nil { state.expired.insert(nonce) }
                    return waiter
                }
                waiter?.resume(returning: nil)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            await group.waitForAll()
            let reply: Reply?
            if let first {
                reply = first
            } else {
                // The timer may have won the race against a reply that was just stored.
                reply = state.withLock { $0.answers.removeValue(forKey: nonce) }
            }
            state.withLock { state in
                state.expired.remove(nonce)
                if state.inFlight == nonce { state.inFlight = nil }
            }
            return reply
        }
    }
}
