import Foundation

/// A fence around an allowed place: a GeoJSON (RFC 7946) Polygon or MultiPolygon, holes included,
/// prepared for the one question the policy asks of it: does the whole accuracy circle around a
/// position lie inside?
///
/// Geometry. Edges are straight lines between positions in longitude/latitude, as RFC 7946 §3.1.1 defines
/// them; a position is inside when it is inside an odd number of rings (even–odd over every ring of every
/// polygon: holes subtract; the polygons of a MultiPolygon must not overlap, as RFC 7946 and OGC require).
/// A fence crossing the antimeridian is split there into a MultiPolygon (RFC 7946 §3.1.9): the edges the
/// two sides share on longitude ±180 are not boundary, so a circle across the seam can be inside.
///
/// Distances. The circle's clearance from the edges is measured in metres in the plane tangent to the
/// WGS 84 ellipsoid at the position (east scaled by the prime-vertical radius times cos latitude, north by
/// the meridional radius). Against the ellipsoidal distance that plane's error is below
/// `|tan φ| · r / 6,300 km + 10⁻³` of the distance for a circle of radius r at latitude φ (the change of
/// cos φ across the circle, the curvature beyond it); the test is conservative by that much: a circle
/// counts as inside only when every edge is at least r · (1 + that bound) away. Circles larger than
/// ``maximumRadiusMeters`` are never inside. `scripts/fence-crosscheck.py` (run by the test suite) checks
/// these decisions against shapely and pyproj's azimuthal equidistant projection.
///
/// Speed. Edges are bucketed in latitude bands when the fence is read: a test looks at the band of the
/// position (for the even–odd count) and at the bands the circle spans, skipping edges whose bounding box
/// misses the circle's; a position outside the fence's bounding box is outside at once.
public final class Geofence: Sendable, Hashable, CustomStringConvertible {
    /// The geometry as given, kept to write the allowlist back unchanged.
    public let geoJSON: JSONValue
    public let vertexCount: Int
    public let polygonCount: Int
    /// Accuracy circles wider than this are too vague to place in any fence.
    public static let maximumRadiusMeters = 100_000.0

    private let parity: EdgeIndex
    private let boundary: EdgeIndex
    private let bounds: Bounds

    struct Position: Sendable, Hashable {
        var longitude: Double
        var latitude: Double
    }

    /// Reads a GeoJSON geometry: a Polygon or a MultiPolygon, or a Feature or FeatureCollection of them.
    public init(geoJSON: JSONValue) throws(GeofenceError) {
        self.geoJSON = geoJSON
        let polygons = try Self.polygons(of: geoJSON)
        self.polygonCount = polygons.count
        self.vertexCount = polygons.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count - 1 } }
        var edges: [Edge] = []
        edges.reserveCapacity(vertexCount)
        for rings in polygons {
            for ring in rings {
                for index in 1..<ring.count where ring[index - 1] != ring[index] {
                    edges.append(Edge(ring[index - 1], ring[index]))
                }
            }
        }
        parity = EdgeIndex(edges)
        boundary = EdgeIndex(Self.withoutSharedSeams(edges))
        bounds = Bounds(edges)
    }

    /// Reads a GeoJSON document (a fence file) strictly: a member twice or a trailing comma is refused.
    public convenience init(parsing data: Data) throws(GeofenceError) {
        let value: JSONValue
        do {
            value = try StrictJSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw GeofenceError("not strict JSON: \(error.description(in: "the fence"))")
        }
        try self.init(geoJSON: value)
    }

    public var description: String {
        "fence of \(polygonCount) polygon\(polygonCount == 1 ? "" : "s"), \(vertexCount) vertices"
    }

    /// Where a circle of `radiusMeters` around a position lies relative to the fence.
    public func test(latitude: Double, longitude: Double, radiusMeters: Double) -> FenceTest {
        guard contains(latitude: latitude, longitude: longitude) else { return .outside }
        guard radiusMeters <= Self.maximumRadiusMeters else { return .crossesEdge(distanceMeters: 0) }
        let plane = TangentPlane(latitude: latitude)
        let radius = max(0, radiusMeters)
        // Degrees the circle spans, generously: north-south by the meridional scale, east-west by the
        // narrowest parallel it reaches.
        let latitudeSpan = radius / plane.metresPerDegreeLatitude * 1.01 + 1e-9
        let farthestLatitude = min(89.999_999, abs(latitude) + latitudeSpan)
        let longitudeSpan = min(360, radius / (TangentPlane(latitude: farthestLatitude).metresPerDegreeLongitude) * 1.01 + 1e-9)
        let margin = 1 + abs(tan(farthestLatitude * .pi / 180)) * radius / 6_300_000 + 1e-3
        let required = radius * margin
        var nearest = Double.infinity
        boundary.forEdges(latitudeFrom: latitude - latitudeSpan, to: latitude + latitudeSpan) { edge in
            guard edge.overlaps(longitude: longitude, span: longitudeSpan) else { return }
            let a = plane.project(edge.a, from: latitude, longitude)
            let b = plane.project(edge.b, from: latitude, longitude)
            nearest = min(nearest, TangentPlane.distanceFromOrigin(toSegment: a, b))
        }
        return nearest >= required ? .inside : .crossesEdge(distanceMeters: nearest)
    }

    /// Whether the position itself lies inside (on an edge may count either way).
    public func contains(latitude: Double, longitude: Double) -> Bool {
        guard bounds.contains(latitude: latitude, longitude: longitude) else { return false }
        var inside = false
        parity.forEdges(latitudeFrom: latitude, to: latitude) { edge in
            guard (edge.a.latitude > latitude) != (edge.b.latitude > latitude) else { return }
            let crossing =
                (edge.b.longitude - edge.a.longitude) * (latitude - edge.a.latitude)
                / (edge.b.latitude - edge.a.latitude) + edge.a.longitude
            if longitude < crossing { inside.toggle() }
        }
        return inside
    }

    public static func == (lhs: Geofence, rhs: Geofence) -> Bool { lhs === rhs || lhs.geoJSON == rhs.geoJSON }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(vertexCount)
        hasher.combine(polygonCount)
    }

    /// The edges without the parts of antimeridian edges (both ends on longitude 180, or both on -180) that
    /// an edge on the other side covers: there the fence goes on across the seam.
    private static func withoutSharedSeams(_ edges: [Edge]) -> [Edge] {
        func seam(_ edge: Edge) -> Double? {
            abs(edge.a.longitude) == 180 && edge.a.longitude == edge.b.longitude ? edge.a.longitude : nil
        }
        let east = edges.filter { seam($0) == 180 }.map { ($0.minLatitude, $0.maxLatitude) }
        let west = edges.filter { seam($0) == -180 }.map { ($0.minLatitude, $0.maxLatitude) }
        guard !east.isEmpty, !west.isEmpty else { return edges }
        var kept: [Edge] = []
        for edge in edges {
            guard let side = seam(edge) else {
                kept.append(edge)
                continue
            }
            // The latitude intervals of this edge not covered by the other side's seam edges.
            var pieces = [(edge.minLatitude, edge.maxLatitude)]
            for (low, high) in side == 180 ? west : east {
                pieces = pieces.flatMap { piece -> [(Double, Double)] in
                    guard high > piece.0, low < piece.1 else { return [piece] }
                    return [(piece.0, low), (high, piece.1)].filter { $0.1 > $0.0 }
                }
            }
            for (low, high) in pieces {
                kept.append(Edge(Position(longitude: side, latitude: low), Position(longitude: side, latitude: high)))
            }
        }
        return kept
    }
    private static func polygons(of value: JSONValue) throws(GeofenceError) -> [[[Position]]] {
        guard case .object(let object) = value, case .string(let type)? = object["type"] else {
            throw GeofenceError("a fence is a GeoJSON object with a \"type\"")
        }
        switch type {
        case "Polygon":
            return [try polygon(object["coordinates"], at: "coordinates")]
        case "MultiPolygon":
            guard case .array(let list)? = object["coordinates"], !list.isEmpty else {
                throw GeofenceError("MultiPolygon coordinates must be a non-empty array of polygons")
            }
            var polygons: [[[Position]]] = []
            for (index, item) in list.enumerated() {
                polygons.append(try polygon(item, at: "coordinates[\(index)]"))
            }
            return polygons
        case "Feature":
            guard let geometry = object["geometry"] else { throw GeofenceError("Feature has no geometry") }
            return try polygons(of: geometry)
        case "FeatureCollection":
            guard case .array(let features)? = object["features"], !features.isEmpty else {
                throw GeofenceError("FeatureCollection has no features")
            }
            var all: [[[Position]]] = []
            for feature in features { all += try polygons(of: feature) }
            return all
        default:
            throw GeofenceError("a fence must be a Polygon or MultiPolygon (or a Feature of one), not \(type)")
        }
    }

    private static func polygon(_ value: JSONValue?, at path: String) throws(GeofenceError) -> [[Position]] {
        guard case .array(let ringValues)? = value, !ringValues.isEmpty else {
            throw GeofenceError("\(path) must be a non-empty array of linear rings")
        }
        var rings: [[Position]] = []
        for (index, ringValue) in ringValues.enumerated() {
            let where_ = "\(path)[\(index)]"
            guard case .array(let positionValues) = ringValue, positionValues.count >= 4 else {
                throw GeofenceError("\(where_) must be a linear ring of at least 4 positions")
            }
            var ring: [Position] = []
            ring.reserveCapacity(positionValues.count)
            for (number, positionValue) in positionValues.enumerated() {
                guard case .array(let numbers) = positionValue, (2...3).contains(numbers.count),
                    case .number(let longitude) = numbers[0], case .number(let latitude) = numbers[1],
                    (-180...180).contains(longitude), (-90...90).contains(latitude)
                else {
                    throw GeofenceError(
                        "\(where_)[\(number)] must be [longitude, latitude] in degrees (-180...180, -90...90)")
                }
                ring.append(Position(longitude: longitude, latitude: latitude))
            }
            guard ring.first == ring.last else {
                throw GeofenceError("\(where_) is not closed: its last position must repeat its first")
            }
            for index in 1..<ring.count where abs(ring[index].longitude - ring[index - 1].longitude) > 180 {
                throw GeofenceError(
                    "\(where_)[\(index)] jumps more than 180° of longitude: split a fence that crosses the antimeridian into a MultiPolygon (RFC 7946 §3.1.9)")
            }
            rings.append(ring)
        }
        return rings
    }
}

/// Where an accuracy circle lies relative to a fence.
public enum FenceTest: Sendable, Hashable {
    /// Wholly inside, with the stated margin.
    case inside
    /// The centre is inside, but an edge passes `distanceMeters` from it: the circle crosses it.
    case crossesEdge(distanceMeters: Double)
    /// The centre is outside.
    case outside

    public var isInside: Bool {
        if case .inside = self { return true }
        return false
    }
}

public struct GeofenceError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The plane tangent to the WGS 84 ellipsoid at a latitude, in metres east and north.
struct TangentPlane {
    static let semiMajorAxis = 6_378_137.0
    static let flattening = 1 / 298.257_223_563
    static let eccentricitySquared = flattening * (2 - flattening)

    let metresPerDegreeLatitude: Double
    let metresPerDegreeLongitude: Double

    init(latitude: Double) {
        let phi = latitude * .pi / 180
        let sine = sin(phi)
        let w = (1 - Self.eccentricitySquared * sine * sine).squareRoot()
        let meridional = Self.semiMajorAxis * (1 - Self.eccentricitySquared) / (w * w * w)
        let primeVertical = Self.semiMajorAxis / w
        metresPerDegreeLatitude = meridional * .pi / 180
        metresPerDegreeLongitude = primeVertical * cos(phi) * .pi / 180
    }

    /// `position` in metres east and north of (`latitude`, `longitude`); longitudes across the antimeridian
    /// are taken the short way round.
    func project(_ position: Geofence.Position, from latitude: Double, _ longitude: Double) -> (x: Double, y: Double) {
        var deltaLongitude = position.longitude - longitude
        if deltaLongitude > 180 { deltaLongitude -= 360 } else if deltaLongitude < -180 { deltaLongitude += 360 }
        return (deltaLongitude * metresPerDegreeLongitude, (position.latitude - latitude) * metresPerDegreeLatitude)
    }

    static func distanceFromOrigin(toSegment a: (x: Double, y: Double), _ b: (x: Double, y: Double)) -> Double {
        let dx = b.x - a.x
        let dy = b.y - a.y
        let lengthSquared = dx * dx + dy * dy
        var t = lengthSquared > 0 ? -(a.x * dx + a.y * dy) / lengthSquared : 0
        t = min(1, max(0, t))
        let x = a.x + t * dx
        let y = a.y + t * dy
        return (x * x + y * y).squareRoot()
    }
}

/// One edge, with its latitude and longitude range.
struct Edge: Sendable {
    let a: Geofence.Position
    let b: Geofence.Position
    let minLatitude: Double
    let maxLatitude: Double
    let minLongitude: Double
    let maxLongitude: Double

    init(_ a: Geofence.Position, _ b: Geofence.Position) {
        self.a = a
        self.b = b
        minLatitude = min(a.latitude, b.latitude)
        maxLatitude = max(a.latitude, b.latitude)
        minLongitude = min(a.longitude, b.longitude)
        maxLongitude = max(a.longitude, b.longitude)
    }

    /// Whether the edge's longitude range meets `longitude ± span`, across the antimeridian too.
    func overlaps(longitude: Double, span: Double) -> Bool {
        for shift in [0.0, 360, -360] {
            let low = longitude - span + shift
            let high = longitude + span + shift
            if maxLongitude >= low && minLongitude <= high { return true }
        }
        return false
    }
}

/// Edges bucketed by latitude: band i holds every edge whose latitude range meets it.
struct EdgeIndex: Sendable {
    private let edges: [Edge]
    private let southernmost: Double
    private let bandHeight: Double
    /// Edge numbers of band i: `members[starts[i]..<starts[i + 1]]`.
    private let starts: [Int]
    private let members: [Int32]

    init(_ edges: [Edge]) {
        self.edges = edges
        let south = edges.map(\.minLatitude).min() ?? 0
        let north = edges.map(\.maxLatitude).max() ?? 0
        // About four edges a band for a ring that is round; at most 4096 bands.
        let bands = max(1, min(4096, edges.count / 4))
        southernmost = south
        bandHeight = max((north - south) / Double(bands), 1e-12)
        var lists = [[Int32]](repeating: [], count: bands)
        for (number, edge) in edges.enumerated() {
            let first = Self.band(edge.minLatitude, south, bandHeight, bands)
            let last = Self.band(edge.maxLatitude, south, bandHeight, bands)
            for band in first...last { lists[band].append(Int32(number)) }
        }
        var starts = [0]
        starts.reserveCapacity(bands + 1)
        for list in lists { starts.append(starts[starts.count - 1] + list.count) }
        self.starts = starts
        members = lists.flatMap { $0 }
    }

    private static func band(_ latitude: Double, _ south: Double, _ height: Double, _ count: Int) -> Int {
        min(count - 1, max(0, Int(((latitude - south) / height).rounded(.down))))
    }

    /// Calls `body` with every edge whose band meets `low...high` (an edge may come more than once when the
    /// range spans bands).
    func forEdges(latitudeFrom low: Double, to high: Double, _ body: (Edge) -> Void) {
        let count = starts.count - 1
        guard !edges.isEmpty, high >= southernmost, low <= southernmost + bandHeight * Double(count) else { return }
        let first = Self.band(low, southernmost, bandHeight, count)
        let last = Self.band(high, southernmost, bandHeight, count)
        for band in first...last {
            for slot in starts[band]..<starts[band + 1] {
                body(edges[Int(members[slot])])
            }
        }
    }
}

/// The fence's latitude and longitude range.
struct Bounds: Sendable {
    let south: Double
    let north: Double
    let west: Double
    let east: Double

    init(_ edges: [Edge]) {
        south = edges.map(\.minLatitude).min() ?? 0
        north = edges.map(\.maxLatitude).max() ?? 0
        west = edges.map(\.minLongitude).min() ?? 0
        east = edges.map(\.maxLongitude).max() ?? 0
    }

    func contains(latitude: Double, longitude: Double) -> Bool {
        latitude >= south && latitude <= north && longitude >= west && longitude <= east
    }
}
