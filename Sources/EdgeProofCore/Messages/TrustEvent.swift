import Foundation

/// Payload of `events/{component}/{id}` and a line of a collector's events file: a rejection or
/// another trust-relevant event.
public struct TrustEvent: Sendable, Hashable, Codable {
    public var timestamp: String
    /// "gateway" or "collector".
    public var component: String
    public var id: String
    /// rejection, accepted, nonce_issued, allowlist_reloaded, allowlist_reload_failed, started, stopping, …
    public var kind: String
    public var agentName: String?
    public var rejection: Rejection?
    public var details: [String: JSONValue]

    enum CodingKeys: String, CodingKey {
        case timestamp, component, id, kind
        case agentName = "agent_name"
        case rejection, details
    }

    public init(
        timestamp: String, component: String, id: String, kind: String, agentName: String? = nil,
        rejection: Rejection? = nil, details: [String: JSONValue] = [:]
    ) {
        self.timestamp = timestamp
        self.component = component
        self.id = id
        self.kind = kind
        self.agentName = agentName
        self.rejection = rejection
        self.details = details
    }
}

/// Retained payload of `status/{component}/{id}`; the last will carries the offline form.
public struct ComponentStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Codable {
        case online
        /// Running but failing at its job (a collector that cannot write records sends no receipts).
        case degraded
        case offline
    }

    /// "agent", "gateway" or "collector".
    public var component: String
    public var id: String
    public var state: State
    public var since: String
    public var version: String?
    public var counters: [String: Int]?
    /// What is wrong while `degraded`.
    public var problem: String?

    public init(
        component: String, id: String, state: State, since: String, version: String? = nil,
        counters: [String: Int]? = nil, problem: String? = nil
    ) {
        self.component = component
        self.id = id
        self.state = state
        self.since = since
        self.version = version
        self.counters = counters
        self.problem = problem
    }
}

extension TrustEvent {
    /// The event's JSON (``WireJSON``); throws for a value JSON cannot carry (a number that is not finite).
    public func jsonData() throws -> Data {
        try WireJSON.encode(self)
    }
}
