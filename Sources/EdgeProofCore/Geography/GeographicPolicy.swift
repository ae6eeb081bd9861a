/// Decides whether a signed location is allowed for an agent: the agent's own allowed places plus
/// any places the global policy allows for every agent.
public struct GeographicPolicy: Sendable, Hashable, Codable {
    /// Places allowed for all agents, in addition to each agent's own.
    public var globalPlaces: [AllowedPlace]
    /// What every agent's signed position must show (source, accuracy, fix age, receiver); each agent's
    /// `location_requirements` replace these key by key.
    public var location: LocationRequirement?
    /// What registrars accept of an enrolling agent's platform (``PlatformPolicy``); gateways and
    /// collectors ignore it.
    public var platform: PlatformPolicy?

    enum CodingKeys: String, CodingKey {
        case globalPlaces = "allowed_places"
        case location = "location_requirements"
        case platform
    }

    public init(globalPlaces: [AllowedPlace] = [], location: LocationRequirement? = nil, platform: PlatformPolicy? = nil) {
        self.globalPlaces = globalPlaces
        self.location = location
        self.platform = platform
    }

    /// Every member optional: a policy may set location requirements without global places.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        globalPlaces = try container.decodeIfPresent([AllowedPlace].self, forKey: .globalPlaces) ?? []
        location = try container.decodeIfPresent(LocationRequirement.self, forKey: .location)
        platform = try container.decodeIfPresent(PlatformPolicy.self, forKey: .platform)
    }

    public func allows(_ location: GeographicRegion, agentPlaces: [AllowedPlace]) -> Bool {
        agentPlaces.contains { $0.contains(location) } || globalPlaces.contains { $0.contains(location) }
    }

    /// Checks `location` and fails with `location_not_allowed` naming the location and the places.
    public func check(_ location: GeographicRegion, agentPlaces: [AllowedPlace]) throws(ValidationFailure) {
        guard !allows(location, agentPlaces: agentPlaces) else { return }
        let allowed = (agentPlaces + globalPlaces).map { JSONValue.string($0.description) }
        throw ValidationFailure(
            .locationNotAllowed, "location \(location) is not in the agent's allowed places",
            details: [
                "location": .object([
                    "region": .string(location.region),
                    "state": location.state.map(JSONValue.string) ?? .null,
                    "city": location.city.map(JSONValue.string) ?? .null,
                ]),
                "allowed_places": .array(allowed),
            ])
    }
}
