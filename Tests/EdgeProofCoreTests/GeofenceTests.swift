import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@Suite("fences: the whole accuracy circle inside a GeoJSON polygon")
struct GeofenceTests {
    static func fence(_ json: String) throws(GeofenceError) -> Geofence { try Geofence(parsing: Data(json.utf8)) }

    /// A 1°×1° square (37–38 N, 122–121 W) with a 0.2°×0.2° hole in its middle.
    static let squareWithHole = """
        {"type":"Polygon","coordinates":[
          [[-122,37],[-121,37],[-121,38],[-122,38],[-122,37]],
          [[-121.6,37.4],[-121.6,37.6],[-121.4,37.6],[-121.4,37.4],[-121.6,37.4]]]}
        """
    /// Metres per degree of longitude at 37.2 N on WGS 84 (prime-vertical radius × cos φ × π/180).
    static let metresPerDegreeLongitude = 88_743.0

    @Test("a position deep inside is inside; in the hole or beyond the edge it is outside")
    func insideHoleOutside() throws {
        let fence = try Self.fence(Self.squareWithHole)
        #expect(fence.test(latitude: 37.2, longitude: -121.8, radiusMeters: 100) == .inside)
        #expect(fence.test(latitude: 37.5, longitude: -121.5, radiusMeters: 10) == .outside)
        #expect(fence.test(latitude: 36.9, longitude: -121.5, radiusMeters: 10) == .outside)
        #expect(fence.test(latitude: 37.5, longitude: -120.5, radiusMeters: 10) == .outside)
        #expect(fence.vertexCount == 8)
    }

    @Test("a circle reaching over an edge crosses it, by the distance on the ellipsoid, not in degrees")
    func circleCrossingAnEdge() throws {
        let fence = try Self.fence(Self.squareWithHole)
        // 1,000 m west of the east edge (121 W) at 37.2 N.
        let longitude = -121 - 1000 / Self.metresPerDegreeLongitude
        #expect(fence.test(latitude: 37.2, longitude: longitude, radiusMeters: 990) == .inside)
        guard case .crossesEdge(let distance) = fence.test(latitude: 37.2, longitude: longitude, radiusMeters: 1010) else {
            Issue.record("a 1,010 m circle 1,000 m from the edge must cross it")
            return
        }
        #expect(abs(distance - 1000) < 2, "\(distance)")
        // Near the hole's edge, from outside it.
        #expect(fence.test(latitude: 37.39, longitude: -121.5, radiusMeters: 2000) != .inside)
        #expect(fence.test(latitude: 37.39, longitude: -121.5, radiusMeters: 1000) == .inside)
    }

    @Test("a circle near a corner is measured to the vertex")
    func circleNearAVertex() throws {
        let fence = try Self.fence(Self.squareWithHole)
        // 300 m south and 300 m west of the north-east corner (38 N, 121 W): 424 m from the corner.
        let latitude = 38 - 300 / 111_030.0
        let longitude = -121 - 300 / 87_870.0
        #expect(fence.test(latitude: latitude, longitude: longitude, radiusMeters: 290) == .inside)
        #expect(fence.test(latitude: latitude, longitude: longitude, radiusMeters: 310) != .inside)
    }

    @Test("a MultiPolygon: inside either part; a circle reaching into the gap between them crosses")
    func multiPolygon() throws {
        let fence = try Self.fence("""
            {"type":"MultiPolygon","coordinates":[
              [[[0,0],[1,0],[1,1],[0,1],[0,0]]],
              [[[2,0],[3,0],[3,1],[2,1],[2,0]]]]}
            """)
        #expect(fence.test(latitude: 0.5, longitude: 0.5, radiusMeters: 1000) == .inside)
        #expect(fence.test(latitude: 0.5, longitude: 2.5, radiusMeters: 1000) == .inside)
        #expect(fence.test(latitude: 0.5, longitude: 1.5, radiusMeters: 10) == .outside)
        #expect(fence.test(latitude: 0.5, longitude: 0.99, radiusMeters: 5000) != .inside)
    }

    @Test("a fence split at the antimeridian: a circle across the seam is inside; one part alone it is not")
    func antimeridian() throws {
        let east = "[[[179,-18],[180,-18],[180,-16],[179,-16],[179,-18]]]"
        let west = "[[[-180,-18],[-179,-18],[-179,-16],[-180,-16],[-180,-18]]]"
        let split = try Self.fence(#"{"type":"MultiPolygon","coordinates":[\#(east),\#(west)]}"#)
        // 100 m west of the seam, a 1 km circle: half of it lies beyond 180.
        let longitude = 180 - 100 / 106_000.0
        #expect(split.test(latitude: -17, longitude: longitude, radiusMeters: 1000) == .inside)
        #expect(split.test(latitude: -17, longitude: -180 + 100 / 106_000.0, radiusMeters: 1000) == .inside)
        let eastOnly = try Self.fence(#"{"type":"Polygon","coordinates":\#(east)}"#)
        #expect(eastOnly.test(latitude: -17, longitude: longitude, radiusMeters: 1000) != .inside)
        // The seam's outer ends are still edges: near the south edge, across the seam, it crosses.
        #expect(split.test(latitude: -17.999, longitude: longitude, radiusMeters: 1000) != .inside)
    }

    @Test("a ring jumping over the antimeridian is refused with the RFC's advice")
    func ringAcrossTheAntimeridianRefused() {
        #expect(throws: GeofenceError.self) {
            try Self.fence(#"{"type":"Polygon","coordinates":[[[179,0],[-179,0],[-179,1],[179,1],[179,0]]]}"#)
        }
    }

    @Test("circles wider than 100 km are never inside")
    func vagueCirclesNeverInside() throws {
        let fence = try Self.fence(#"{"type":"Polygon","coordinates":[[[-20,-20],[20,-20],[20,20],[-20,20],[-20,-20]]]}"#)
        #expect(fence.test(latitude: 0, longitude: 0, radiusMeters: 99_000) == .inside)
        #expect(fence.test(latitude: 0, longitude: 0, radiusMeters: 150_000) != .inside)
    }

    @Test("bad GeoJSON is refused, saying what and where", arguments: [
        (#"{"type":"Point","coordinates":[0,0]}"#, "Polygon or MultiPolygon"),
        (#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0.5]]]}"#, "not closed"),
        (#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#, "at least 4 positions"),
        (#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,91],[0,0]]]}"#, "coordinates[0][2]"),
        (#"{"type":"Polygon","coordinates":[[[0,0],[1,0],["1",1],[0,0]]]}"#, "[longitude, latitude]"),
        (#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]],"type":"Polygon"}"#, "duplicate member"),
    ])
    func badGeoJSONRefused(json: String, message: String) {
        do throws(GeofenceError) {
            _ = try Self.fence(json)
            Issue.record("accepted: \(json)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test("thousands of random circles decide as shapely and pyproj do (within the stated margin)")
    func crossCheckWithShapelyAndPyproj() async throws {
        let probe = try await ProcessRunner.run("python3", ["-c", "import shapely, pyproj"])
        try #require(probe.status == 0, "shapely and pyproj are missing: scripts/install-deps.sh installs them")
        var generator = SplitMix64(seed: 14)
        let fences: [String: String] = [
            "square-with-hole": Self.squareWithHole,
            "antimeridian": #"{"type":"MultiPolygon","coordinates":[[[[179,-18],[180,-18],[180,-16],[179,-16],[179,-18]]],[[[-180,-18],[-179,-18],[-179,-16],[-180,-16],[-180,-18]]]]}"#,
            "jagged-1000": String(decoding: try JSONEncoder().encode(SyntheticFence.jagged(vertices: 1000, latitude: 48.1, longitude: 11.5, radiusMeters: 20_000)), as: UTF8.self),
        ]
        var parsed: [String: Geofence] = [:]
        for (name, json) in fences { parsed[name] = try Self.fence(json) }
        let boxes: [String: (south: Double, north: Double, west: Double, east: Double)] = [
            "square-with-hole": (36.9, 38.1, -122.1, -120.9),
            "antimeridian": (-18.1, -15.9, 178.9, 181.1),
            "jagged-1000": (47.85, 48.35, 11.1, 11.9),
        ]
        var cases: [[JSONValue]] = []
        for (name, box) in boxes.sorted(by: { $0.key < $1.key }) {
            guard let fence = parsed[name] else { continue }
            for _ in 0..<800 {
                let latitude = Double.random(in: box.south...box.north, using: &generator)
                var longitude = Double.random(in: box.west...box.east, using: &generator)
                if longitude > 180 { longitude -= 360 }
                let radius = exp(Double.random(in: 0...log(20_000.0), using: &generator))
                let verdict: String =
                    switch fence.test(latitude: latitude, longitude: longitude, radiusMeters: radius) {
                    case .inside: "inside"
                    case .crossesEdge: "crosses"
                    case .outside: "outside"
                    }
                cases.append([.string(name), .number(latitude), .number(longitude), .number(radius), .string(verdict)])
            }
        }
        var request: [String: JSONValue] = ["cases": .array(cases.map(JSONValue.array)), "across_antimeridian": .array([.string("antimeridian")])]
        var geometries: [String: JSONValue] = [:]
        for (name, fence) in parsed { geometries[name] = fence.geoJSON }
        request["fences"] = .object(geometries)
        let input = try JSONEncoder().encode(JSONValue.object(request))
        let result = try await ProcessRunner.run(
            "python3", [PackagePaths.script("scripts/fence-crosscheck.py")], input: input)
        try #require(result.status == 0, "\(result.standardError)")
        let answer = try JSONDecoder().decode(CrossCheck.self, from: result.standardOutput)
        #expect(answer.disagreements.isEmpty, "\(answer.disagreements.prefix(5))")
        #expect(answer.agreements + answer.tolerated.count == cases.count)
        #expect(answer.tolerated.count < cases.count / 50, "tolerated \(answer.tolerated.count) of \(cases.count)")
        // Enough of every verdict to mean something.
        let verdicts = Dictionary(grouping: cases, by: { $0[4] }).mapValues(\.count)
        for verdict in ["inside", "crosses", "outside"] {
            #expect((verdicts[.string(verdict)] ?? 0) >= 100, "\(verdicts)")
        }
        print("fence cross-check: \(answer.agreements) agree, \(answer.tolerated.count) within the stated margin, of \(cases.count)")
    }

    struct CrossCheck: Decodable {
        var agreements: Int
        var tolerated: [JSONValue]
        var disagreements: [JSONValue]
    }
}
