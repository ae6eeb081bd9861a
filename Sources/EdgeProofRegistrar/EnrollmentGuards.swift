import EdgeProofCore
import Foundation
import Synchronization

/// Per-agent token bucket: `burst` requests at once, refilled at `perSecond`. A begin and a finish each take
/// one, so an agent enrolling normally needs two. Buckets of agents idle long enough to be full are dropped,
/// which bounds memory by the agents active within one refill period.
final class EnrollmentRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    let burst: Double
    let perSecond: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    init(burst: Int, perSecond: Double) {
        self.burst = Double(max(1, burst))
        self.perSecond = max(0.001, perSecond)
    }

    /// Takes one request's token for `agent`; false when its bucket is empty.
    func allow(_ agent: String, now: Date) -> Bool {
        buckets.withLock { buckets in
            var bucket = buckets[agent] ?? Bucket(tokens: burst, updated: now)
            let elapsed = max(0, now.timeIntervalSince(bucket.updated))
            bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
            bucket.updated = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[agent] = bucket
            if buckets.count > 10_000 {
                let full = burst / perSecond
                buckets = buckets.filter { now.timeIntervalSince($0.value.updated) < full }
            }
            return allowed
        }
    }
}

/// Tokens already finished, kept until they expire (an expired token is refused anyway): a finish is
/// single-use, as a nonce is. Check and insert are one step, so two copies of one finish cannot both pass.
final class UsedTokenCache: Sendable {
    private let used = Mutex<[String: Date]>([:])

    /// Marks `id` used; false when it already was.
    func claim(_ id: String, expiresAt: Date, now: Date) -> Bool {
        used.withLock { used in
            if used.count > 1024 { used = used.filter { $0.value > now } }
            guard used[id] == nil else { return false }
            used[id] = expiresAt
            return true
        }
    }
}
