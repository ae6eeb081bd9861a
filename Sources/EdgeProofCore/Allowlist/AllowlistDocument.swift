/// The allowlist file's shape (JSON or YAML): agents plus an optional global policy and enrollment section.
public struct AllowlistDocument: Sendable, Hashable, Codable {
    public var version: Int
    public var policy: GeographicPolicy?
    public var agents: [AllowlistEntry]
    /// Expected, pending and rejected enrollments; nil (absent from the file) when there are none.
    public var enrollment: EnrollmentSection?

    public init(
        version: Int = 1, policy: GeographicPolicy? = nil, agents: [AllowlistEntry] = [],
        enrollment: EnrollmentSection? = nil
    ) {
        self.version = version
        self.policy = policy
        self.agents = agents
        self.enrollment = enrollment
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decodeIfPresent(Int.self, forKey: .version) ?? 1
        policy = try container.decodeIfPresent(GeographicPolicy.self, forKey: .policy)
        enrollment = try container.decodeIfPresent(EnrollmentSection.self, forKey: .enrollment)
        agents = []
        guard container.contains(.agents), try !container.decodeNil(forKey: .agents) else { return }
        var list = try container.nestedUnkeyedContainer(forKey: .agents)
        if let count = list.count { agents.reserveCapacity(count) }
        // Agents mostly share a few sets of places (a site, a region): each set is held once, and
        // the decoded copy is freed before the next entry is read.
        var places = Set<[AllowedPlace]>()
        while !list.isAtEnd {
            var entry = try list.decode(AllowlistEntry.self)
            entry.allowedPlaces = places.insert(entry.allowedPlaces).memberAfterInsert
            agents.append(entry)
        }
    }
}
