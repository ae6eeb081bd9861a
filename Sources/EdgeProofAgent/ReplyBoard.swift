import EdgeProofCore
import Synchronization

/// Matches receipts and rejections that arrive on the agent's topics to the envelope in flight (the
/// agent sends one at a time). A receipt names its nonce; a rejection names it in `details.nonce`
/// when the rejecting component includes it, and otherwise belongs to the envelope in flight.
///
/// An envelope is settled by a rejection, or once the collectors it needs have confirmed it: any one
/// when none are named, else every named one.
final class ReplyBoard: Sendable {
    enum Reply: Sendable {
        case receipt(Receipt)
        case rejection(Rejection)
    }

    enum Outcome: Sendable {
        /// Every required collector confirmed storing the envelope (in arrival order).
        case stored([Receipt])
        case rejected(Rejection)
    }

    private struct InFlight {
        let nonce: String
        let required: Set<String>
        var receipts: [Receipt] = []
        var outcome: Outcome?
        var waiter: CheckedContinuation<Outcome?, Never>?
        /// The wait's timer fired (possibly before the waiter registered).
        var timedOut = false

        var isComplete: Bool {
            required.isEmpty ? !receipts.isEmpty : required.isSubset(of: receipts.map(\.collector))
        }
    }

    private let state = Mutex<InFlight?>(nil)

    /// Declares `nonce` the envelope in flight, before it is published; `required` are the
    /// collectors that must confirm it (empty: any one).
    func expect(_ nonce: String, from required: Set<String>) {
        let previous = state.withLock { state in
            defer { state = InFlight(nonce: nonce, required: required) }
            return state?.waiter
        }
        previous?.resume(returning: nil)
    }

    /// Forgets `nonce` if it is in flight (its publish failed).
    func forget(_ nonce: String) {
        let waiter = state.withLock { state -> CheckedContinuation<Outcome?, Never>? in
            guard state?.nonce == nonce else { return nil }
            defer { state = nil }
            return state?.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Hands a reply to the envelope in flight; false when it is for no envelope in flight.
    @discardableResult
    func deliver(_ reply: Reply, nonce: String?) -> Bool {
        let (matched, settled) = state.withLock { state -> (Bool, (CheckedContinuation<Outcome?, Never>, Outcome)?) in
            guard var current = state, nonce == nil || nonce == current.nonce else { return (false, nil) }
            if current.outcome == nil {
                switch reply {
                case .receipt(let receipt):
                    if !current.receipts.contains(where: { $0.collector == receipt.collector }) {
                        current.receipts.append(receipt)
                    }
                    if current.isComplete { current.outcome = .stored(current.receipts) }
                case .rejection(let rejection):
                    current.outcome = .rejected(rejection)
                }
            }
            var settled: (CheckedContinuation<Outcome?, Never>, Outcome)?
            if let outcome = current.outcome, let waiter = current.waiter {
                settled = (waiter, outcome)
                current.waiter = nil
            }
            state = current
            return (true, settled)
        }
        if let (waiter, outcome) = settled { waiter.resume(returning: outcome) }
        return matched
    }

    /// Waits until `nonce` is settled; nil after `timeout`, on cancellation, or if it is not in
    /// flight. Afterwards nothing is in flight.
    func wait(for nonce: String, timeout: Duration) async -> Outcome? {
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { state -> Outcome?? in
                        guard var current = state, current.nonce == nonce, !current.timedOut else { return .some(nil) }
                        if let outcome = current.outcome { return .some(outcome) }
                        current.waiter = continuation
                        state = current
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                // Timed out or cancelled: release the waiter (a no-op when it was answered).
                let waiter = self.state.withLock { state -> CheckedContinuation<Outcome?, Never>? in
                    guard var current = state, current.nonce == nonce else { return nil }
                    current.timedOut = true
                    defer { current.waiter = nil; state = current }
                    return current.waiter
                }
                waiter?.resume(returning: nil)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            await group.waitForAll()
            return first
        }
        return state.withLock { state in
            // The timer may have won the race against a reply that settled it just now.
            let settled = outcome ?? (state?.nonce == nonce ? state?.outcome : nil)
            if state?.nonce == nonce { state = nil }
            return settled
        }
    }
}
