import EdgeProofCore
import Testing

@Suite("Geographic policy")
struct GeographicPolicyTests {
    /// The prototype's policy, as places: independent region/state/city lists let
    /// "US/California/Austin" through; hierarchical places must not.
    private let agentPlaces = [
        AllowedPlace(region: "US", state: "Texas", city: "Austin"),
        AllowedPlace(region: "US", state: "California", city: "Santa Clara"),
    ]

    @Test(
        "locations match places hierarchically",
        arguments: [
            ("US/California/Santa Clara", true),
            ("US/Texas/Austin", true),
            ("US/California/Austin", false),
            ("US/Texas/Santa Clara", false),
            ("US/California", false),
            ("US", false),
            ("EU/Germany/Berlin", false),
            ("us/california/santa clara", true),
            ("  US / CALIFORNIA /  Santa   Clara ", true),
            ("US/California/Santa Clara Valley", false),
        ])
    func matchesHierarchically(location: String, allowed: Bool) throws {
        let region = try #require(GeographicRegion(path: location))
        #expect(GeographicPolicy().allows(region, agentPlaces: agentPlaces) == allowed, "\(location)")
    }

    @Test("a place naming only a region or a state allows everything below it")
    func broaderPlacesAllowEverythingBelow() throws {
        let places = [AllowedPlace(region: "US", state: "New York"), AllowedPlace(region: "CA")]
        let policy = GeographicPolicy()
        #expect(policy.allows(try #require(GeographicRegion(path: "US/New York/Buffalo")), agentPlaces: places))
        #expect(policy.allows(try #require(GeographicRegion(path: "CA/Ontario/Toronto")), agentPlaces: places))
        #expect(!policy.allows(try #require(GeographicRegion(path: "US/New Jersey/Newark")), agentPlaces: places))
        #expect(!policy.allows(try #require(GeographicRegion(path: "US")), agentPlaces: places))
    }

    @Test("global places are allowed for every agent in addition to its own")
    func globalPlacesAddToAgentPlaces() throws {
        let policy = GeographicPolicy(globalPlaces: [AllowedPlace(region: "US", state: "Oregon")])
        let portland = try #require(GeographicRegion(path: "US/Oregon/Portland"))
        #expect(policy.allows(portland, agentPlaces: agentPlaces))
        #expect(policy.allows(portland, agentPlaces: []))
        #expect(!GeographicPolicy().allows(portland, agentPlaces: agentPlaces))
    }

    @Test("no places at all allows nothing")
    func emptyPolicyAllowsNothing() throws {
        #expect(!GeographicPolicy().allows(Fixtures.santaClara, agentPlaces: []))
    }

    @Test("a refused location names the location and the allowed places")
    func rejectionExplainsItself() throws {
        let berlin = try #require(GeographicRegion(path: "EU/Germany/Berlin"))
        do {
            try GeographicPolicy().check(berlin, agentPlaces: agentPlaces)
            Issue.record("Berlin passed a US-only policy")
        } catch {
            #expect(error.reason == .locationNotAllowed)
            #expect(error.reason.validationType == .geolocationPolicy)
            #expect(error.message.contains("EU/Germany/Berlin"))
            #expect(error.details["allowed_places"] == ["US/Texas/Austin", "US/California/Santa Clara"])
        }
    }

    @Test(
        "the prototype's Country/State/City form parses, malformed forms do not",
        arguments: [
            ("US/California/Santa Clara", GeographicRegion(region: "US", state: "California", city: "Santa Clara")),
            ("US/Texas", GeographicRegion(region: "US", state: "Texas")),
            ("US", GeographicRegion(region: "US")),
        ])
    func parsesPath(path: String, expected: GeographicRegion) {
        #expect(GeographicRegion(path: path) == expected)
    }

    @Test("empty levels and too many levels are not a location", arguments: ["", "US//Austin", "a/b/c/d", "/US", " "])
    func rejectsMalformedPath(path: String) {
        #expect(GeographicRegion(path: path) == nil)
    }

    @Test("a place with a city but no state is invalid")
    func cityNeedsState() {
        #expect(AllowedPlace(region: "US", city: "Austin").validationProblem != nil)
        #expect(AllowedPlace(region: "US", state: "Texas", city: "Austin").validationProblem == nil)
        #expect(AllowedPlace(region: " ").validationProblem != nil)
    }
}
