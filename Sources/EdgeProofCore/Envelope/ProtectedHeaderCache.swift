import Synchronization

/// Headers already read, by their exact `protected` string: an agent sends the same header with
/// every envelope, so the collector decodes it once. Only headers the fast reader accepted are kept
/// (a pure function of the string), and the cache is emptied when full, so a sender of ever-new
/// headers costs a little memory at most.
final class ProtectedHeaderCache: Sendable {
    static let shared = ProtectedHeaderCache()

    /// Distinct headers kept at most: agents times key types, in practice one per key.
    let capacity: Int
    private let headers = Mutex<[String: JWSHeader]>([:])

    init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    var count: Int {
        headers.withLock { $0.count }
    }

    func header(for protected: String) -> JWSHeader? {
        headers.withLock { $0[protected] }
    }

    func insert(_ header: JWSHeader, for protected: String) {
        headers.withLock { headers in
            if headers.count >= capacity { headers.removeAll(keepingCapacity: true) }
            headers[protected] = header
        }
    }
}
