import Foundation
import Synchronization

/// A consumed nonce as the replay cache remembers it.
public struct ConsumedNonce: Sendable, Hashable {
    public let id: NonceID
    public let expiresAt: Date

    public init(id: NonceID, expiresAt: Date) {
        self.id = id
        self.expiresAt = expiresAt
    }
}

/// Where the replay cache keeps consumed nonces so a restart does not reopen a replay window.
/// Implemented outside Core (files live in EdgeProofStorage).
public protocol ReplayCacheStorage: Sendable {
    /// Every consumed nonce recorded so far and not released; expired ones may be among them.
    func loadConsumed() throws -> [ConsumedNonce]
    /// Records one consumed nonce; returns only once it is durable.
    func append(_ nonce: ConsumedNonce) throws
    /// Records that a consumed nonce was given back; returns only once it is durable.
    func appendRelease(_ id: NonceID) throws
    /// Replaces everything stored with `live`, atomically.
    func compact(keeping live: [ConsumedNonce]) throws
}

/// The set of nonces already used, with an atomic check-and-consume. Holds only unexpired nonces:
/// memory is bounded by issue rate × nonce lifetime.
public final class ReplayCache: Sendable {
    private struct State {
        var expiries: [NonceID: Date] = [:]
        var insertsSincePrune = 0
        /// Entries in storage, live or not, to decide when compaction pays off.
        var storedEntries = 0
    }

    private let storage: (any ReplayCacheStorage)?
    private let state: Mutex<State>

    /// Loads what `storage` holds, dropping what has expired. Without storage, the cache lives
    /// in memory only (tests, the gateway).
    public init(storage: (any ReplayCacheStorage)?, now: Date = Date()) throws {
        var initial = State()
        if let storage {
            let stored = try storage.loadConsumed()
            initial.storedEntries = stored.count
            for nonce in stored where nonce.expiresAt > now {
                initial.expiries[nonce.id] = nonce.expiresAt
            }
        }
        self.storage = storage
        self.state = Mutex(initial)
    }

    /// Marks `nonce` used. Returns false if it was already used. The check and the durable record
    /// are one step under one lock: two concurrent submissions of one nonce cannot both succeed.
    /// Throws (and consumes nothing) if storage fails.
    public func consume(_ nonce: ValidNonce, now: Date = Date()) throws -> Bool {
        try state.withLock { state in
            if let expiry = state.expiries[nonce.id], expiry > now { return false }
            let consumed = ConsumedNonce(id: nonce.id, expiresAt: nonce.expiresAt)
            try storage?.append(consumed)
            state.expiries[nonce.id] = nonce.expiresAt
            state.storedEntries += 1
            state.insertsSincePrune += 1
            if state.insertsSincePrune >= max(1024, state.expiries.count / 2) {
                try prune(&state, now: now)
            }
            return true
        }
    }

    /// Gives a consumed nonce back because its envelope could not be stored after all, so that the
    /// agent's retry of the same envelope is not taken for a replay.
    public func release(_ id: NonceID) throws {
        try state.withLock { state in
            guard state.expiries[id] != nil else { return }
            try storage?.appendRelease(id)
            state.expiries[id] = nil
            state.storedEntries += 1
        }
    }

    /// Whether `id` has been consumed and not yet expired.
    public func contains(_ id: NonceID, now: Date = Date()) -> Bool {
        state.withLock { state in
            state.expiries[id].map { $0 > now } ?? false
        }
    }

    /// Unexpired consumed nonces held in memory (expired ones are dropped lazily).
    public var count: Int {
        state.withLock { $0.expiries.count }
    }

    /// Drops expired nonces now, and compacts storage when most of it is dead.
    public func prune(now: Date = Date()) throws {
        try state.withLock { state in try prune(&state, now: now) }
    }

    private func prune(_ state: inout State, now: Date) throws {
        state.expiries = state.expiries.filter { $0.value > now }
        state.insertsSincePrune = 0
        if let storage, state.storedEntries > 2 * state.expiries.count + 1024 {
            let live = state.expiries.map { ConsumedNonce(id: $0.key, expiresAt: $0.value) }
            try storage.compact(keeping: live)
            state.storedEntries = live.count
        }
    }
}
