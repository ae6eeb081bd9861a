import Crypto
import Foundation
import Synchronization

/// Tells one envelope from another that carries the same nonce: a hash of its signature, which
/// covers the header and claims. A byte-identical resend has the same fingerprint; a different
/// envelope (or a re-signature: ECDSA signatures are randomized) has another.
public struct EnvelopeFingerprint: Sendable, Hashable {
    let high: UInt64
    let low: UInt64

    /// The fingerprint of an envelope with this base64url `signature`.
    public init(signature: String) {
        var hasher = SHA256()
        var signature = signature
        signature.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        let digest = hasher.finalize()
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in digest.prefix(16).enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.high = high
        self.low = low
    }
}

/// A nonce use the collector's records already hold, for rebuilding the cache after a restart.
public struct RecordedNonceUse: Sendable, Hashable {
    public let id: NonceID
    public let expiresAt: Date
    public let fingerprint: EnvelopeFingerprint
    public let storedAt: Date

    public init(id: NonceID, expiresAt: Date, fingerprint: EnvelopeFingerprint, storedAt: Date) {
        self.id = id
        self.expiresAt = expiresAt
        self.fingerprint = fingerprint
        self.storedAt = storedAt
    }
}

/// The set of nonces already used, with an atomic check-and-claim. Holds only unexpired nonces:
/// memory is bounded by issue rate × nonce lifetime.
///
/// The cache is in memory; what makes it survive a restart is the collector's records files, which
/// hold every stored envelope with its nonce and signature (see ``remember(_:now:)``). A nonce is
/// therefore used exactly when its record is durable: ``claim(_:fingerprint:now:)`` reserves it,
/// the caller writes the record, then ``commit(_:storedAt:)``, or ``release(_:)`` when the write failed.
public final class ReplayCache: Sendable {
    /// The outcome of ``claim(_:fingerprint:now:)``.
    public enum Claim: Sendable, Hashable {
        /// The nonce was unused and is now reserved for this envelope: store it, then commit or release.
        case claimed
        /// This very envelope was stored already (a resend); nothing to store again.
        case alreadyStored(at: Date)
        /// This very envelope is being stored right now (a resend that overtook the first copy).
        case inProgress
        /// Another envelope used this nonce: a replay.
        case replayed
    }

    private struct Use {
        var expiresAt: Date
        var fingerprint: EnvelopeFingerprint
        // `storedAt` as the bits of its seconds since 2001, or `pending`: a `Date?` needs a ninth
        // byte, which pads every entry from 32 to 40 bytes (4 MB in a table of 300,000 nonces).
        private var storedAtBits: UInt64

        init(expiresAt: Date, fingerprint: EnvelopeFingerprint, storedAt: Date?) {
            self.expiresAt = expiresAt
            self.fingerprint = fingerprint
            self.storedAtBits = Self.bits(storedAt)
        }

        /// Whether the nonce still counts as used at `now`: unexpired, or its record still being
        /// written (a write that fails releases it; one that succeeds gives it a time).
        func isLive(at now: Date) -> Bool {
            expiresAt > now || storedAt == nil
        }

        /// nil while the record is being written.
        var storedAt: Date? {
            get {
                guard storedAtBits != Self.pending else { return nil }
                return Date(timeIntervalSinceReferenceDate: Double(bitPattern: storedAtBits))
            }
            set { storedAtBits = Self.bits(newValue) }
        }

        /// A NaN that no clock or timestamp gives. A time that is this very NaN is kept as the
        /// ordinary NaN, which compares the same, so every `Date` keeps its meaning.
        private static let pending = Double.signalingNaN.bitPattern

        private static func bits(_ date: Date?) -> UInt64 {
            guard let date else { return pending }
            let bits = date.timeIntervalSinceReferenceDate.bitPattern
            return bits == pending ? Double.nan.bitPattern : bits
        }
    }

    private struct State {
        var uses: [NonceID: Use] = [:]
        var claimsSincePrune = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Reserves `nonce` for the envelope with `fingerprint`, or says why not. The check and the
    /// reservation are one step under one lock: of two concurrent submissions, one gets ``Claim/claimed``.
    public func claim(_ nonce: ValidNonce, fingerprint: EnvelopeFingerprint, now: Date = Date()) -> Claim {
        state.withLock { state in
            if let use = state.uses[nonce.id], use.isLive(at: now) {
                guard use.fingerprint == fingerprint else { return .replayed }
                return use.storedAt.map { .alreadyStored(at: $0) } ?? .inProgress
            }
            state.uses[nonce.id] = Use(expiresAt: nonce.expiresAt, fingerprint: fingerprint, storedAt: nil)
            state.claimsSincePrune += 1
            if state.claimsSincePrune >= max(1024, state.uses.count / 2) { prune(&state, now: now) }
            return .claimed
        }
    }

    /// The claimed nonce's record is durable.
    public func commit(_ id: NonceID, storedAt: Date) {
        state.withLock { state in state.uses[id]?.storedAt = storedAt }
    }

    /// The claimed nonce's record could not be written: the nonce is unused again, so the agent's
    /// resend of the same envelope is stored rather than taken for a replay.
    public func release(_ id: NonceID) {
        state.withLock { state in
            if state.uses[id]?.storedAt == nil { state.uses[id] = nil }
        }
    }

    /// Adds uses read back from the records files (at start), dropping expired ones.
    public func remember(_ uses: some Sequence<RecordedNonceUse>, now: Date = Date()) {
        state.withLock { state in
            for use in uses where use.expiresAt > now {
                state.uses[use.id] = Use(expiresAt: use.expiresAt, fingerprint: use.fingerprint, storedAt: use.storedAt)
            }
        }
    }

    /// Whether `id` is used (stored or being stored) and not yet expired.
    public func contains(_ id: NonceID, now: Date = Date()) -> Bool {
        state.withLock { state in
            state.uses[id]?.isLive(at: now) ?? false
        }
    }

    /// Nonces held in memory (expired ones are dropped lazily).
    public var count: Int {
        state.withLock { $0.uses.count }
    }

    /// Drops expired nonces now.
    public func prune(now: Date = Date()) {
        state.withLock { state in prune(&state, now: now) }
    }

    private func prune(_ state: inout State, now: Date) {
        state.uses = state.uses.filter { $0.value.isLive(at: now) }
        state.claimsSincePrune = 0
    }
}
