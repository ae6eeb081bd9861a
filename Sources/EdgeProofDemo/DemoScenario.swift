import EdgeProofCore

/// One of the prototype's three scenarios (who the agent is, where it says it is, whether it is on
/// the allowlist, and what must happen to its envelope), or an attack by a compromised agent.
public struct DemoScenario: Sendable {
    /// A document a compromised agent crafts and has its TPM sign honestly: each must be refused.
    public enum Tamper: Sendable, Hashable {
        /// `geographic_region` twice: an allowed place first, Berlin last.
        case duplicateMember
        /// `{"k":1,}`: outside JSON's grammar, although some readers take it.
        case trailingComma
        /// `kid` and `tpm_public_key_hash` in uppercase hex, which no key lookup by kid finds.
        case uppercaseKeyHash
        /// A valid nonce, but dated 2099.
        case timestampOutsideNonceWindow
        /// Not an envelope: a SUBSCRIBE to the collectors' `$share` group for nonce requests, which would
        /// swallow a share of every agent's requests if the broker granted it.
        case joinNonceShareGroup
    }

    public enum Expectation: Sendable, Equatable, CustomStringConvertible {
        case accepted
        case rejected(RejectionReason)
        /// The broker itself refuses (mosquitto: MQTT v5 reason 135, not authorized; ejabberd: 0x8F, topic
        /// filter invalid, for a filter its rules do not grant).
        case refusedByBroker
        /// An enrollment the registrar approves at this level.
        case enrolled(TrustLevel)
        /// The allowlist's evidence re-checked offline.
        case verifiedOffline
        /// A component's operations endpoint: ready, and `/metrics` scraped.
        case scraped
        /// The collector's OTLP JSON output: a line for every record, each verifying from itself.
        case otlpRecords

        public var description: String {
            switch self {
            case .accepted: "accepted"
            case .rejected(let reason): "rejected (\(reason.code))"
            case .refusedByBroker: "refused by the broker"
            case .enrolled(let level): "enrolled (\(level))"
            case .verifiedOffline: "every trust block verifies"
            case .scraped: "ready, metrics scraped"
            case .otlpRecords: "one verified OTLP line per record"
            }
        }
    }

    /// How an allowlisted agent's key came onto the allowlist.
    public enum Enrollment: Sendable, Hashable {
        /// Attested enrollment; the operator pre-registered the agent's name and EK hash (`allowlist expect`),
        /// so the registrar's book approves it at once.
        case expected
        /// Attested enrollment left pending; the operator approves it by typing the EK hash it shows.
        case approvedByOperator
        /// `allowlist add --public-key`: level `configured`, nothing proves where the key lives.
        case configured
    }

    public var name: String
    public var agent: String
    public var location: GeographicRegion
    public var allowlisted: Bool
    public var expectation: Expectation
    /// Set for an attack: the agent's own software is bypassed and this document is sent instead.
    public var tamper: Tamper? = nil
    /// Times the agent's TPM loses power (swtpm killed, no TPM2_Shutdown) before the agent runs.
    public var powerLosses = 0
    /// For an allowlisted agent: how its key got there.
    public var enrollment = Enrollment.expected
    /// Set for an agent that signs its GNSS receiver's position (gpsd fed by gpsfake with this track).
    public var gnss: GNSSTrack? = nil

    /// What the agent's receiver reports, replayed by gpsfake from an NMEA log the demo writes.
    public enum GNSSTrack: String, Sendable, Hashable {
        /// Central Santa Clara, 5 m at 95 %.
        case insideSantaClara = "inside-santa-clara"
        /// Downtown San Jose, outside the Santa Clara fence, 5 m at 95 %.
        case downtownSanJose = "downtown-san-jose"
        /// Central Santa Clara, but only to some 490 m at 95 %.
        case poorAccuracy = "poor-accuracy"
    }

    public static let all: [DemoScenario] = [
        DemoScenario(
            name: "happy path", agent: "agent-001",
            location: GeographicRegion(region: "US", state: "California", city: "Santa Clara"), allowlisted: true,
            expectation: .accepted),
        DemoScenario(
            name: "outside the geofence", agent: "agent-002",
            location: GeographicRegion(region: "EU", state: "Germany", city: "Berlin"), allowlisted: true,
            expectation: .rejected(.locationNotAllowed), enrollment: .approvedByOperator),
        DemoScenario(
            name: "not on the allowlist", agent: "agent-003",
            location: GeographicRegion(region: "US", state: "Texas", city: "Austin"), allowlisted: false,
            expectation: .rejected(.agentNotFound)),
        DemoScenario(
            name: "key not TPM-attested", agent: "agent-004",
            location: GeographicRegion(region: "US", state: "Texas", city: "Austin"), allowlisted: true,
            expectation: .rejected(.agentNotAttested), enrollment: .configured),
    ]

    /// Agents that sign their GNSS position (gpsd, fed by gpsfake): declared in Santa Clara, whose allowed place
    /// carries a fence (a GeoJSON file in the work directory); each must show a gnss fix from an approved
    /// receiver, accurate to 50 m and at most 30 s old, whose accuracy circle lies inside the fence.
    /// agent-001 at an edge site: on the site's own broker, bridged to the central broker by the site's gateway.
    public static let site: [DemoScenario] = [
        DemoScenario(
            name: "through the site bridge", agent: "agent-001", location: all[0].location, allowlisted: true,
            expectation: .accepted),
        DemoScenario(
            name: "uplink cut for \(siteOutageSeconds) s", agent: "agent-001", location: all[0].location, allowlisted: true,
            expectation: .accepted),
    ]
    /// How long the demo's site loses its uplink.
    public static let siteOutageSeconds = 4

    public static let gnss: [DemoScenario] = [
        DemoScenario(
            name: "gnss inside the fence", agent: "agent-006", location: all[0].location, allowlisted: true,
            expectation: .accepted, gnss: .insideSantaClara),
        DemoScenario(
            name: "gnss outside the fence", agent: "agent-007", location: all[0].location, allowlisted: true,
            expectation: .rejected(.locationOutsideFence), gnss: .downtownSanJose),
        DemoScenario(
            name: "gnss accuracy too poor", agent: "agent-008", location: all[0].location, allowlisted: true,
            expectation: .rejected(.locationAccuracyInsufficient), gnss: .poorAccuracy),
    ]

    /// Enrollments with the registrar, before any envelope: agent-001 pre-registered, agent-002 approved by
    /// the operator, and an attacker (agent-005, a TPM of its own) presenting agent-001's EK certificate.
    public static let enrollments: [DemoScenario] = [
        DemoScenario(
            name: "attested enrollment, EK pre-registered", agent: "agent-001", location: all[0].location,
            allowlisted: true, expectation: .enrolled(.tpmEKCert), enrollment: all[0].enrollment),
        DemoScenario(
            name: "attested enrollment, approved by the operator", agent: "agent-002", location: all[1].location,
            allowlisted: true, expectation: .enrolled(.tpmEKCert), enrollment: all[1].enrollment),
        DemoScenario(
            name: "presents another TPM's EK certificate", agent: "agent-005", location: all[0].location,
            allowlisted: false, expectation: .rejected(.activationProofInvalid)),
    ]
    /// A compromised agent-001 (its certificate, its TPM) sends honestly signed but crafted envelopes.
    public static let attacks: [DemoScenario] = [
        (name: "duplicate member name", tamper: Tamper.duplicateMember, reason: RejectionReason.malformedEnvelope),
        (name: "trailing comma", tamper: .trailingComma, reason: .malformedEnvelope),
        (name: "uppercase key hash", tamper: .uppercaseKeyHash, reason: .headerMismatch),
        (name: "timestamp outside the nonce's window", tamper: .timestampOutsideNonceWindow, reason: .timestampSkew),
    ].map { attack in
        DemoScenario(
            name: attack.name, agent: "agent-001", location: all[0].location, allowlisted: true,
            expectation: .rejected(attack.reason), tamper: attack.tamper)
    } + [
        DemoScenario(
            name: "joins the collectors' nonce group", agent: "agent-001", location: all[0].location,
            allowlisted: true, expectation: .refusedByBroker, tamper: .joinNonceShareGroup)
    ]

    /// A second partition (its own broker and CA, its own gateway; collector-1 on both brokers): agent-001 sends
    /// there, then its stored envelope is replayed through the first broker.
    public static let partition: [DemoScenario] = [
        DemoScenario(
            name: "on partition b, one collector for both", agent: "agent-001", location: all[0].location,
            allowlisted: true, expectation: .accepted),
        DemoScenario(
            name: "its envelope replayed via the first broker", agent: "agent-001", location: all[0].location,
            allowlisted: true, expectation: .rejected(.nonceReplayed)),
    ]

    /// An application on agent-001's device, instrumented with the OpenTelemetry Python SDK, exports a gauge and a
    /// counter over OTLP/HTTP to the agent's `otlp_receiver`.
    public static let applicationMetrics = DemoScenario(
        name: "application metric over OTLP/HTTP", agent: "agent-001", location: all[0].location, allowlisted: true,
        expectation: .accepted)

    /// With `--cluster ejabberd`: agent-001 sends steadily through node 1 of the cluster when node 1 is killed.
    public static let clusterNodeLoss = DemoScenario(
        name: "cluster node 1 killed mid-run", agent: "agent-001", location: all[0].location, allowlisted: true,
        expectation: .accepted)

    /// `allowlist verify-evidence` after the enrollments: the two enrolled agents' trust blocks re-checked offline.
    public static let evidenceAudit = DemoScenario(
        name: "trust blocks re-checked offline", agent: "agent-001, agent-002", location: all[0].location,
        allowlisted: true, expectation: .verifiedOffline)

    /// Faults an edge device lives through: the agent still signs and sends afterwards.
    public static let faults: [DemoScenario] = [
        DemoScenario(
            name: "ten power losses of the TPM", agent: "agent-001", location: all[0].location, allowlisted: true,
            expectation: .accepted, powerLosses: 10)
    ]

    /// Where the GNSS agents may be: Santa Clara, within its fence (`fence_file`, relative to the allowlist).
    public static let fencedPlaces = [
        AllowedPlace(region: "US", state: "California", city: "Santa Clara", fenceFile: "fences/santa-clara.geojson")
    ]

    /// What the GNSS agents' positions must show (their allowlist entries' `location_requirements`).
    public static let gnssRequirements = LocationRequirement(
        minimumSource: .gnss, maximumAccuracyMeters: DemoGeography.maximumAccuracyMeters,
        maximumFixAgeSeconds: DemoGeography.maximumFixAgeSeconds, approvedSensors: [SensorPattern(driver: "NMEA0183")])

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
