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
    /// A gateway bridging a site to an upstream broker: its links and queues.
    public var relay: RelayStatus?

    public init(
        component: String, id: String, state: State, since: String, version: String? = nil,
        counters: [String: Int]? = nil, problem: String? = nil, relay: RelayStatus? = nil
    ) {
        self.component = component
        self.id = id
        self.state = state
        self.since = since
        self.version = version
        self.counters = counters
        self.problem = problem
        self.relay = relay
    }
}

/// The site bridge's part of a gateway's status: whether each side is connected and what waits in
/// each direction.
public struct RelayStatus: Sendable, Hashable, Codable {
    /// One direction's durable queue.
    public struct Queue: Sendable, Hashable, Codable {
        /// Messages taken from one side and not yet acknowledged by the other.
        public var messages: Int
        public var bytes: Int
        /// Of those, sent and awaiting their acknowledgement.
        public var inFlight: Int
        /// Age of the oldest waiting message, seconds; absent when nothing waits.
        public var oldestAgeSeconds: Double?
        /// Messages dropped since start, by reason (`full_drop_oldest`, `full_drop_newest`, `too_old`,
        /// `expired`, `refused`, `store_failed`).
        public var dropped: [String: Int]?

        enum CodingKeys: String, CodingKey {
            case messages, bytes
            case inFlight = "in_flight"
            case oldestAgeSeconds = "oldest_age_s"
            case dropped
        }

        public init(messages: Int, bytes: Int, inFlight: Int, oldestAgeSeconds: Double?, dropped: [String: Int]?) {
            self.messages = messages
            self.bytes = bytes
            self.inFlight = inFlight
            self.oldestAgeSeconds = oldestAgeSeconds
            self.dropped = dropped
        }
    }

    public var siteConnected: Bool
    public var upstreamConnected: Bool
    /// Site → upstream: nonce requests, envelopes, the gateway's events.
    public var up: Queue
    /// Upstream → site: nonce responses, receipts and rejections for the site's agents.
    public var down: Queue
    /// Agents of this site whose answers the gateway subscribes to upstream.
    public var agents: Int

    enum CodingKeys: String, CodingKey {
        case siteConnected = "site_connected"
        case upstreamConnected = "upstream_connected"
        case up, down, agents
    }

    public init(siteConnected: Bool, upstreamConnected: Bool, up: Queue, down: Queue, agents: Int) {
        self.siteConnected = siteConnected
        self.upstreamConnected = upstreamConnected
        self.up = up
        self.down = down
        self.agents = agents
    }
}

extension TrustEvent {
    /// The event's JSON (``WireJSON``); throws for a value JSON cannot carry (a number that is not finite).
    public func jsonData() throws -> Data {
        try WireJSON.encode(self)
    }
}
