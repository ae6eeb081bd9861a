import EdgeProofCore
import Foundation
import Testing

/// The whole geographic decision on signed claims (``GeographicPolicy/check(_:agentPlaces:agentRequirement:)``):
/// each reason with its trigger, the order of the checks, per-agent rules, old envelopes.
@Suite("geolocation policy: fences, quality, freshness, approved sensors")
struct GeographicEvidencePolicyTests {
    static let santaClara = GeographicRegion(region: "US", state: "California", city: "Santa Clara")
    static let berlin = GeographicRegion(region: "EU", state: "Germany", city: "Berlin")
    /// A square around central Santa Clara (37.30–37.41 N, 122.01–121.90 W).
    static let santaClaraFence = fence(
        geoJSON: .object([
            "type": "Polygon",
            "coordinates": .array([.array([[-122.01, 37.30], [-121.90, 37.30], [-121.90, 37.41], [-122.01, 37.41], [-122.01, 37.30]].map { .array($0.map(JSONValue.number)) })]),
        ]))
    static let berlinFence = fence(
        geoJSON: .object([
            "type": "Polygon",
            "coordinates": .array([.array([[13.2, 52.4], [13.6, 52.4], [13.6, 52.6], [13.2, 52.6], [13.2, 52.4]].map { .array($0.map(JSONValue.number)) })]),
        ]))
    /// A fence from a geometry these tests write themselves (a mistake in one is a test bug: it stops here).
    static func fence(geoJSON: JSONValue) -> Geofence {
        do {
            return try Geofence(geoJSON: geoJSON)
        } catch {
            fatalError("test fence: \(error)")
        }
    }

    static let fencedSantaClara = AllowedPlace(region: "US", state: "California", city: "Santa Clara", fence: santaClaraFence)
    static let fencedBerlin = AllowedPlace(region: "EU", state: "Germany", city: "Berlin", fence: berlinFence)
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func fix(
        latitude: Double = 37.3541, longitude: Double = -121.9552, accuracy: Double? = 5, source: LocationSource? = .gnss,
        age: TimeInterval = 2, sensor: LocationSensor? = LocationSensor(driver: "u-blox", model: "NEO-M8N", firmware: "SPG 3.01")
    ) -> Geolocation {
        Geolocation(
            latitude: latitude, longitude: longitude, accuracyMeters: accuracy, source: source, fixMode: .threeDimensional,
            fixTime: Timestamp.string(from: now.addingTimeInterval(-age)), sensor: sensor)
    }

    static func claims(_ geolocation: Geolocation?, declared: GeographicRegion = santaClara) -> EnvelopeClaims {
        EnvelopeClaims(
            agentName: "agent-001", publicKeyHash: PublicKeyHash(subjectPublicKeyInfo: Data([1, 2, 3])),
            nonce: "n", timestamp: Timestamp.string(from: now), geographicRegion: declared, geolocation: geolocation,
            metrics: MetricsBatch(service: ServiceInfo(name: "s", version: "1", instanceID: "i"), samples: []))
    }

    static let strict = LocationRequirement(
        minimumSource: .gnss, maximumAccuracyMeters: 50, maximumFixAgeSeconds: 30,
        approvedSensors: [SensorPattern(driver: "u-blox", model: "NEO-M8?"), SensorPattern(driver: "NMEA0183")])

    func reason(
        _ geolocation: Geolocation?, declared: GeographicRegion = santaClara, places: [AllowedPlace] = [fencedSantaClara],
        global: LocationRequirement? = strict, agent: LocationRequirement? = nil, globalPlaces: [AllowedPlace] = []
    ) -> String? {
        let policy = GeographicPolicy(globalPlaces: globalPlaces, location: global)
        do throws(ValidationFailure) {
            try policy.check(Self.claims(geolocation, declared: declared), agentPlaces: places, agentRequirement: agent)
            return nil
        } catch {
            return error.reason.code
        }
    }

    @Test("a fresh, accurate GNSS fix from an approved receiver, inside the declared place's fence, passes")
    func goodFixPasses() {
        #expect(reason(Self.fix()) == nil)
    }

    @Test("each rule refuses with its own reason", arguments: [
        ("declared place not allowed", "location_not_allowed"),
        ("configured source", "location_source_not_allowed"),
        ("wifi source", "location_source_not_allowed"),
        ("unapproved receiver", "location_sensor_not_approved"),
        ("no receiver named", "location_sensor_not_approved"),
        ("old fix", "location_stale"),
        ("fix without time", "location_stale"),
        ("fix time after signing", "location_stale"),
        ("too inaccurate", "location_accuracy_insufficient"),
        ("accuracy unknown", "location_accuracy_insufficient"),
        ("outside the fence", "location_outside_fence"),
        ("circle crossing the edge", "location_outside_fence"),
        ("in Berlin's fence, declaring Santa Clara", "location_place_mismatch"),
    ])
    func eachRuleHasItsReason(trigger: String, expected: String) {
        let got: String? =
            switch trigger {
            case "declared place not allowed": reason(Self.fix(), declared: Self.berlin)
            case "configured source": reason(Self.fix(source: .configured))
            case "wifi source": reason(Self.fix(source: .wifi))
            case "unapproved receiver": reason(Self.fix(sensor: LocationSensor(driver: "SiRF")))
            case "no receiver named": reason(Self.fix(sensor: nil))
            case "old fix": reason(Self.fix(age: 31))
            case "fix without time":
                reason({ var fix = Self.fix(); fix.fixTime = nil; return fix }())
            case "fix time after signing": reason(Self.fix(age: -5))
            case "too inaccurate": reason(Self.fix(accuracy: 51))
            case "accuracy unknown": reason(Self.fix(accuracy: nil))
            case "outside the fence": reason(Self.fix(latitude: 37.3382, longitude: -121.8863))
            case "circle crossing the edge":
                // 30 m inside the east edge (121.90 W), accurate to 45 m.
                reason(Self.fix(longitude: -121.90 - 30 / 88_500, accuracy: 45))
            case "in Berlin's fence, declaring Santa Clara":
                reason(Self.fix(latitude: 52.52, longitude: 13.405), places: [Self.fencedSantaClara, Self.fencedBerlin])
            default: "unknown trigger"
            }
        #expect(got == expected, "\(trigger)")
    }

    @Test("checks run in order: source before sensor before age before accuracy before the fence")
    func orderOfChecks() {
        // Everything wrong at once: the source is reported.
        let bad = Self.fix(latitude: 0, longitude: 0, accuracy: 5000, source: .ip, age: 3600, sensor: nil)
        #expect(reason(bad) == "location_source_not_allowed")
        var sensorFirst = bad
        sensorFirst.source = .gnss
        #expect(reason(sensorFirst) == "location_sensor_not_approved")
        sensorFirst.sensor = LocationSensor(driver: "NMEA0183")
        #expect(reason(sensorFirst) == "location_stale")
        sensorFirst.fixTime = Timestamp.string(from: Self.now)
        #expect(reason(sensorFirst) == "location_accuracy_insufficient")
        sensorFirst.accuracyMeters = 5
        #expect(reason(sensorFirst) == "location_outside_fence")
    }

    @Test("an agent's own rules replace the global ones key by key")
    func perAgentOverride() {
        // The agent may use Wi-Fi positions; the global accuracy limit still applies.
        let wifi = LocationRequirement(minimumSource: .wifi, approvedSensors: [])
        #expect(reason(Self.fix(source: .wifi, sensor: nil), agent: wifi) == nil)
        #expect(reason(Self.fix(accuracy: 80, source: .wifi, sensor: nil), agent: wifi) == "location_accuracy_insufficient")
        // A looser accuracy for one agent.
        #expect(reason(Self.fix(accuracy: 80), agent: LocationRequirement(maximumAccuracyMeters: 100)) == nil)
        // A stricter one: the global 50 m is replaced by 10 m.
        #expect(reason(Self.fix(accuracy: 20), agent: LocationRequirement(maximumAccuracyMeters: 10)) == "location_accuracy_insufficient")
    }

    @Test("old envelopes (no geolocation, or the first contract's) still pass where no rule asks for evidence, as source configured")
    func oldEnvelopes() {
        let unfenced = [AllowedPlace(region: "US", state: "California")]
        let first = Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise")
        #expect(reason(nil, places: unfenced, global: nil) == nil)
        #expect(reason(first, places: unfenced, global: nil) == nil)
        #expect(first.effectiveSource == .configured)
        // A rule asking for GNSS refuses both.
        #expect(reason(nil, places: unfenced) == "location_source_not_allowed")
        #expect(reason(first, places: unfenced) == "location_source_not_allowed")
        // A fenced place refuses an envelope without a position.
        #expect(reason(nil, global: nil) == "location_outside_fence")
    }

    @Test("no fix (fix_mode none) where the declared place is fenced: outside the fence")
    func noFixInAFencedPlace() {
        let none = Geolocation(latitude: nil, longitude: nil, source: .gnss, fixMode: FixMode.none, sensor: LocationSensor(driver: "NMEA0183"))
        #expect(none.isPlausible)
        #expect(reason(none, global: LocationRequirement(minimumSource: .gnss)) == "location_outside_fence")
    }

    @Test("a declared place without a fence is still refused when the fix lies in another allowed place's fence")
    func mismatchWithoutDeclaredFence() {
        let places = [AllowedPlace(region: "US", state: "California"), Self.fencedBerlin]
        #expect(reason(Self.fix(latitude: 52.52, longitude: 13.405), places: places, global: nil) == "location_place_mismatch")
        #expect(reason(Self.fix(), places: places, global: nil) == nil)
    }

    @Test("a global fenced place counts like the agent's own")
    func globalFencedPlace() {
        #expect(reason(Self.fix(latitude: 37.3382, longitude: -121.8863), places: [], globalPlaces: [Self.fencedSantaClara]) == "location_outside_fence")
        #expect(reason(Self.fix(), places: [], globalPlaces: [Self.fencedSantaClara]) == nil)
    }

    @Test("a place whose fence file is not loaded contains nothing: fails closed")
    func unloadedFenceFailsClosed() {
        let place = AllowedPlace(region: "US", state: "California", city: "Santa Clara", fenceFile: "missing.geojson")
        #expect(reason(Self.fix(), places: [place]) == "location_outside_fence")
    }

    @Test("approved sensor patterns: * and ? globs, a missing field matches only *")
    func sensorPatterns() {
        let sensor = LocationSensor(driver: "u-blox", model: "NEO-M8N", firmware: nil)
        #expect(SensorPattern(driver: "u-blox*").matches(sensor))
        #expect(SensorPattern(model: "NEO-M8?").matches(sensor))
        #expect(!SensorPattern(model: "NEO-M9?").matches(sensor))
        #expect(SensorPattern(driver: "u-blox", firmware: "*").matches(sensor))
        #expect(!SensorPattern(driver: "u-blox", firmware: "SPG*").matches(sensor))
        #expect(SensorPattern(driver: "*b*").matches(sensor))
        #expect(!SensorPattern(driver: "u-blox?").matches(sensor))
    }

    @Test("a refusal names what was found and what was required")
    func refusalDetails() {
        let policy = GeographicPolicy(location: Self.strict)
        do throws(ValidationFailure) {
            try policy.check(Self.claims(Self.fix(accuracy: 80)), agentPlaces: [Self.fencedSantaClara])
            Issue.record("accepted")
        } catch {
            #expect(error.details["accuracy_m"] == .number(80))
            #expect(error.details["maximum_accuracy_m"] == .number(50))
            #expect(error.message.contains("80 m"), "\(error.message)")
        }
    }
}
