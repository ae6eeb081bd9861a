/// Whether a service can do its work now, for `GET /readyz`: connected, subscribed, its allowlist loaded.
public enum Readiness: Sendable, Equatable {
    case ready
    /// Not ready, and why (the body of the 503).
    case notReady(String)

    /// The first of several conditions that does not hold, or ready.
    public static func first(_ conditions: [(holds: Bool, otherwise: String)]) -> Readiness {
        conditions.first { !$0.holds }.map { .notReady($0.otherwise) } ?? .ready
    }
}

/// A component that can say whether it is ready.
public protocol ReadinessReporting: Sendable {
    var readiness: Readiness { get }
}
