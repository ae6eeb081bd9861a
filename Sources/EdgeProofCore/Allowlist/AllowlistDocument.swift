/// The allowlist file's shape (JSON or YAML): agents plus an optional global policy.
public struct AllowlistDocument: Sendable, Hashable, Codable {
    public var version: Int
    public var policy: GeographicPolicy?
    public var agents: [AllowlistEntry]

    public init(version: Int = 1, policy: GeographicPolicy? = nil, agents: [AllowlistEntry] = []) {
        self.version = version
        self.policy = policy
        self.agents = agents
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decodeIfPresent(Int.self, forKey: .version) ?? 1
        policy = try container.decodeIfPresent(GeographicPolicy.self, forKey: .policy)
        agents = try container.decodeIfPresent([AllowlistEntry].self, forKey: .agents) ?? []
    }
}
