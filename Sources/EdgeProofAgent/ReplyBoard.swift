import EdgeProofCore
import Synchronization

/// Matches receipts and rejections that arrive on the agent's topics to the envelopes in flight (up to
/// `max_in_flight` at once). A receipt names its nonce; a rejection names it in `details.nonce` when the
/// rejecting component read that far. One that does not (`payload_too_large` is refused before parsing)
/// goes to the envelope in flight whose size it names in `details.size`, else to the oldest in flight.
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
        let required: Set<String>
        /// The envelope's bytes, for a rejection that names only the size.
        let size: Int?
        /// When it was declared: a rejection without nonce or size goes to the oldest.
        let order: UInt64
        var receipts: [Receipt] = []
        var outcome: Outcome?
        var waiter: CheckedContinuation<Outcome?, Never>?
        /// The wait's timer fired (possibly before the waiter registered).
        var timedOut = false

        var isComplete: Bool {
            required.isEmpty ? !receipts.isEmpty : required.isSubset(of: receipts.map(\.collector))
        }
    }

    private struct State {
        var flights: [String: InFlight] = [:]
        var declared: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Envelopes in flight.
    var count: Int { state.withLock { $0.flights.count } }

    /// Declares `nonce` in flight, before its envelope is published; `required` are the collectors that
    /// must confirm it (empty: any one); `size` is the envelope's length in bytes.
    func expect(_ nonce: String, from required: Set<String>, size: Int? = nil) {
        let previous = state.withLock { state in
            defer {
                state.declared += 1
                state.flights[nonce] = InFlight(required: required, size: size, order: state.declared)
            }
            return state.flights[nonce]?.waiter
        }
        previous?.resume(returning: nil)
    }

    /// Forgets `nonce` if it is in flight (its publish failed).
    func forget(_ nonce: String) {
        let waiter = state.withLock { $0.flights.removeValue(forKey: nonce)?.waiter }
        waiter?.resume(returning: nil)
    }

    /// Hands a reply to the envelope it belongs to; false when it is for no envelope in flight.
    @discardableResult
    func deliver(_ reply: Reply, nonce: String?, size: Int? = nil) -> Bool {
        let (matched, settled) = state.withLock { state -> (Bool, (CheckedContinuation<Outcome?, Never>, Outcome)?) in
            guard let key = Self.flight(for: nonce, size: size, in: state.flights),
                var current = state.flights[key]
            else { return (false, nil) }
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
            state.flights[key] = current
            return (true, settled)
        }
        if let (waiter, outcome) = settled { waiter.resume(returning: outcome) }
        return matched
    }

    /// The nonce a reply belongs to: its own; else the unsettled envelope of the named size, else the
    /// oldest unsettled one.
    private static func flight(for nonce: String?, size: Int?, in flights: [String: InFlight]) -> String? {
        if let nonce { return flights[nonce] == nil ? nil : nonce }
        let open = flights.filter { $0.value.outcome == nil }
        let sized = size.map { size in open.filter { $0.value.size == size } } ?? [:]
        let candidates = sized.isEmpty ? open : sized
        return candidates.min { $0.value.order < $1.value.order }?.key
    }

    /// Waits until `nonce` is settled; nil after `timeout`, on cancellation, or if it is not in
    /// flight. Afterwards it is no longer in flight.
    func wait(for nonce: String, timeout: Duration) async -> Outcome? {
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { state -> Outcome?? in
                        guard var current = state.flights[nonce], !current.timedOut else { return .some(nil) }
                        if let outcome = current.outcome { return .some(outcome) }
                        current.waiter = continuation
                        state.flights[nonce] = current
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                // Timed out or cancelled: release the waiter (a no-op when it was answered).
                let waiter = self.state.withLock { state -> CheckedContinuation<Outcome?, Never>? in
                    guard var current = state.flights[nonce] else { return nil }
                    current.timedOut = true
                    defer {
                        current.waiter = nil
                        state.flights[nonce] = current
                    }
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
            let flight = state.flights.removeValue(forKey: nonce)
            return outcome ?? flight?.outcome
        }
    }
}
