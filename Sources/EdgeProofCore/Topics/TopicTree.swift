/// The MQTT topic tree under a configurable prefix (default `edgeproof/v1`). `{agent}` is the
/// agent name, which is also the CN of its client certificate, so the broker's `%u` ACL pattern
/// binds every agent to its own subtree.
public struct TopicTree: Sendable, Hashable {
    public let prefix: String

    public static let defaultPrefix = "edgeproof/v1"

    public init(prefix: String = defaultPrefix) {
        var prefix = prefix
        while prefix.hasSuffix("/") { prefix.removeLast() }
        self.prefix = prefix
    }

    public func agentNonceRequest(_ agent: String) -> String { "\(prefix)/agents/\(agent)/nonce/request" }
    public func agentNonceResponse(_ agent: String) -> String { "\(prefix)/agents/\(agent)/nonce/response" }
    public func agentMetrics(_ agent: String) -> String { "\(prefix)/agents/\(agent)/metrics" }
    public func agentReceipts(_ agent: String) -> String { "\(prefix)/agents/\(agent)/receipts" }
    public func agentRejections(_ agent: String) -> String { "\(prefix)/agents/\(agent)/rejections" }
    public func enrollRequest(_ agent: String) -> String { "\(prefix)/agents/\(agent)/enroll/request" }
    public func enrollResponse(_ agent: String) -> String { "\(prefix)/agents/\(agent)/enroll/response" }
    public func verifiedNonceRequest(_ agent: String) -> String { "\(prefix)/verified/\(agent)/nonce/request" }
    public func verifiedMetrics(_ agent: String) -> String { "\(prefix)/verified/\(agent)/metrics" }
    public func events(component: String, id: String) -> String { "\(prefix)/events/\(component)/\(id)" }
    public func status(component: String, id: String) -> String { "\(prefix)/status/\(component)/\(id)" }

    /// Subscriptions for the gateway and collectors.
    public var allAgentNonceRequests: String { "\(prefix)/agents/+/nonce/request" }
    public var allAgentMetrics: String { "\(prefix)/agents/+/metrics" }
    /// The registrars' subscription (behind a `$share/` group, so one registrar answers each request).
    public var allAgentEnrollRequests: String { "\(prefix)/agents/+/enroll/request" }
    public var allVerifiedNonceRequests: String { "\(prefix)/verified/+/nonce/request" }
    public var allVerifiedMetrics: String { "\(prefix)/verified/+/metrics" }
    /// Every agent's retained status (a site bridge relays them upstream).
    public var allAgentStatus: String { "\(prefix)/status/agent/+" }

    /// The agent whose status `topic` is, if it is one.
    public func agentOfStatus(_ topic: String) -> String? {
        let head = "\(prefix)/status/agent/"
        guard topic.hasPrefix(head) else { return nil }
        let name = String(topic.dropFirst(head.count))
        return AgentName.isValid(name) ? name : nil
    }

    /// What a topic of the tree means, with the agent it belongs to.
    public enum Kind: Sendable, Hashable {
        case agentNonceRequest, agentNonceResponse, agentMetrics, agentReceipts, agentRejections
        case enrollRequest, enrollResponse
        case verifiedNonceRequest, verifiedMetrics
    }

    /// Parses an agent-scoped topic; nil for topics outside the tree or with an invalid agent name.
    public func parse(_ topic: String) -> (kind: Kind, agent: String)? {
        guard topic.hasPrefix(prefix + "/") else { return nil }
        let levels = topic.dropFirst(prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count >= 3, AgentName.isValid(String(levels[1])) else { return nil }
        let agent = String(levels[1])
        let kind: Kind? =
            switch (levels[0], Array(levels[2...])) {
            case ("agents", ["nonce", "request"]): .agentNonceRequest
            case ("agents", ["nonce", "response"]): .agentNonceResponse
            case ("agents", ["metrics"]): .agentMetrics
            case ("agents", ["receipts"]): .agentReceipts
            case ("agents", ["rejections"]): .agentRejections
            case ("agents", ["enroll", "request"]): .enrollRequest
            case ("agents", ["enroll", "response"]): .enrollResponse
            case ("verified", ["nonce", "request"]): .verifiedNonceRequest
            case ("verified", ["metrics"]): .verifiedMetrics
            default: nil
            }
        return kind.map { ($0, agent) }
    }
}
