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

extension AllowlistDocument {
    /// Sets the fence of every place that names a `fence_file`, from `load` (called once per distinct path):
    /// the global places, the agents' places and the enrollment section's.
    public mutating func resolveFenceFiles(
        _ load: (String) throws(GeofenceError) -> Geofence
    ) throws(AllowlistError) {
        var loaded: [String: Geofence] = [:]
        func resolve(_ places: inout [AllowedPlace], _ label: @autoclosure () -> String) throws(AllowlistError) {
            for index in places.indices {
                guard let path = places[index].fenceFile else { continue }
                if let fence = loaded[path] {
                    places[index].fence = fence
                    continue
                }
                do {
                    let fence = try load(path)
                    loaded[path] = fence
                    places[index].fence = fence
                } catch {
                    throw AllowlistError("\(label()): fence_file \(path): \(error)")
                }
            }
        }
        if var policy, policy.globalPlaces.contains(where: { $0.fenceFile != nil }) {
            try resolve(&policy.globalPlaces, "policy.allowed_places")
            self.policy = policy
        }
        // Only entries that name a file are touched: most allowlists have none, and a write would copy them all.
        for index in agents.indices where agents[index].allowedPlaces.contains(where: { $0.fenceFile != nil }) {
            let label = "agents[\(index)] (\(agents[index].name))"
            try resolve(&agents[index].allowedPlaces, label)
        }
        if var enrollment {
            for index in enrollment.expected.indices {
                guard var places = enrollment.expected[index].allowedPlaces,
                    places.contains(where: { $0.fenceFile != nil })
                else { continue }
                try resolve(&places, "enrollment.expected (\(enrollment.expected[index].name))")
                enrollment.expected[index].allowedPlaces = places
            }
            for index in enrollment.pending.indices
            where enrollment.pending[index].requestedPlaces.contains(where: { $0.fenceFile != nil }) {
                let label = "enrollment.pending (\(enrollment.pending[index].name))"
                try resolve(&enrollment.pending[index].requestedPlaces, label)
            }
            self.enrollment = enrollment
        }
    }
}
