import EdgeProofCore

/// One of the prototype's three scenarios: who the agent is, where it says it is, whether it is on
/// the allowlist, and what must happen to its envelope.
public struct DemoScenario: Sendable {
    public enum Expectation: Sendable, Equatable, CustomStringConvertible {
        case accepted
        case rejected(RejectionReason)

        public var description: String {
            switch self {
            case .accepted: "accepted"
            case .rejected(let reason): "rejected (\(reason.code))"
            }
        }
    }

    public var name: String
    public var agent: String
    public var location: GeographicRegion
    public var allowlisted: Bool
    public var expectation: Expectation

    public static let all: [DemoScenario] = [
        DemoScenario(
            name: "happy path", agent: "agent-001",
            location: GeographicRegion(region: "US", state: "California", city: "Santa Clara"), allowlisted: true,
            expectation: .accepted),
        DemoScenario(
            name: "outside the geofence", agent: "agent-002",
            location: GeographicRegion(region: "EU", state: "Germany", city: "Berlin"), allowlisted: true,
            expectation: .rejected(.locationNotAllowed)),
        DemoScenario(
            name: "not on the allowlist", agent: "agent-003",
            location: GeographicRegion(region: "US", state: "Texas", city: "Austin"), allowlisted: false,
            expectation: .rejected(.agentNotFound)),
    ]

    /// Every allowlisted agent may be in these places only (US places, as in the prototype's policy).
    public static let allowedPlaces = [
        AllowedPlace(region: "US", state: "California", city: "Santa Clara"),
        AllowedPlace(region: "US", state: "Texas", city: "Austin"),
    ]
}

/// What one scenario did in one gateway mode.
public struct DemoOutcome: Sendable {
    public var scenario: DemoScenario
    public var mode: String
    /// Who should reject: the gateway in enforce mode, the collector in passthrough.
    public var expectedRejectedBy: RejectingComponent?
    public var observed: String
    public var rejection: Rejection?
    public var passed: Bool
}
