import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofService
import Foundation

/// `edgeproof bench fence`: the cost of the fence test the policy runs per envelope, for fences of 10 to
/// 10,000 vertices, by where the position is: deep inside (the common case), near an edge (the circle's
/// bands hold edges to measure), outside in the bounding box, and outside it (the pre-check).
public struct FenceBenchmark: Sendable {
    public var tests: Int
    public var rounds: Int

    public init(tests: Int = 200_000, rounds: Int = 5) {
        self.tests = tests
        self.rounds = rounds
    }

    /// A city-sized, jagged fence of `vertices` around central Santa Clara (``SyntheticFence/jagged(vertices:latitude:longitude:radiusMeters:seed:)``).
    public static func jaggedFence(vertices: Int) throws -> Geofence {
        try Geofence(geoJSON: SyntheticFence.jagged(vertices: vertices))
    }

    public func runAndPrint() throws {
        var figures = [String: Double]()
        var rows = [[String]]()
        for vertices in [10, 100, 1000, 10_000] {
            let clock = ContinuousClock()
            let started = clock.now
            let fence = try Self.jaggedFence(vertices: vertices)
            let preparation = seconds(clock.now - started)
            var generator = SplitMix64(seed: 7)
            var classes: [String: [(Double, Double, Double)]] = [:]
            // Positions in and around the fence's box, sorted by what the test says of a 5 m circle.
            while classes.values.map(\.count).min() ?? 0 < 512 || classes.count < 4 {
                let latitude = 37.3541 + (generator.unit() - 0.5) * 0.2
                let longitude = -121.9552 + (generator.unit() - 0.5) * 0.25
                let key: String
                if abs(latitude - 37.3541) > 0.06 || abs(longitude + 121.9552) > 0.085 {
                    key = "outside_box"
                } else {
                    switch fence.test(latitude: latitude, longitude: longitude, radiusMeters: 5) {
                    case .inside:
                        key = fence.test(latitude: latitude, longitude: longitude, radiusMeters: 500) == .inside
                            ? "inside" : "near_edge"
                    case .crossesEdge: key = "near_edge"
                    case .outside: key = "outside"
                    }
                }
                if classes[key, default: []].count < 512 { classes[key, default: []].append((latitude, longitude, 5)) }
            }
            var row = ["\(vertices)", String(format: "%.2f", preparation * 1000)]
            for key in ["inside", "near_edge", "outside", "outside_box"] {
                let points = classes[key] ?? []
                var best = Double.infinity
                for _ in 0..<rounds {
                    var sink = 0
                    let start = clock.now
                    for index in 0..<tests {
                        let (latitude, longitude, radius) = points[index % points.count]
                        if fence.test(latitude: latitude, longitude: longitude, radiusMeters: radius) == .inside { sink += 1 }
                    }
                    let elapsed = seconds(clock.now - start)
                    if sink < 0 { print(sink) }
                    best = min(best, elapsed / Double(tests) * 1e9)
                }
                figures["fence_test_ns_\(vertices)_\(key)"] = best.rounded()
                row.append(String(format: "%.0f", best))
            }
            figures["fence_prepare_ms_\(vertices)"] = (preparation * 1e5).rounded() / 100
            rows.append(row)
        }
        // The whole geographic decision per envelope (declared place, source, receiver, fix age, accuracy, the
        // 1,000-vertex fence), as gateway and collectors make it.
        let fence = try Self.jaggedFence(vertices: 1000)
        let policy = GeographicPolicy(
            location: LocationRequirement(
                minimumSource: .gnss, maximumAccuracyMeters: 50, maximumFixAgeSeconds: 3600,
                approvedSensors: [SensorPattern(driver: "u-blox", model: "NEO-*"), SensorPattern(driver: "NMEA*")]))
        let places = [
            AllowedPlace(region: "US", state: "Texas", city: "Austin"),
            AllowedPlace(region: "US", state: "California", city: "Santa Clara", fence: fence),
        ]
        let claims = BenchmarkClaims.make(
            keyHash: PublicKeyHash(subjectPublicKeyInfo: Data([1])), nonce: "n", geolocation: BenchmarkClaims.gnssFix())
        var best = Double.infinity
        for _ in 0..<rounds {
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<tests {
                do throws(ValidationFailure) {
                    try policy.check(claims, agentPlaces: places)
                } catch {
                    throw BenchmarkError("the policy refused the benchmark claims: \(error)")
                }
            }
            best = min(best, seconds(clock.now - start) / Double(tests) * 1e9)
        }
        figures["policy_check_ns_1000"] = best.rounded()
        print("One fence test (a 5 m circle) per position, ns, best of \(rounds) rounds of \(tests); target: ≤ 2,000 ns at 1,000 vertices")
        print(
            TextTable(
                header: ["VERTICES", "PREPARE MS", "INSIDE", "NEAR EDGE", "OUTSIDE", "OUTSIDE BOX"], rows: rows
            ).rendered)
        print(
            "The whole geographic decision per envelope (place, source, receiver, fix age, accuracy, 1,000-vertex fence): "
                + "\(Int(best)) ns")
        print(try jsonLine(figures))
    }
}
