import Foundation

/// A fence around an allowed place: a GeoJSON (RFC 7946) Polygon or MultiPolygon, holes included,
/// prepared for the one question the policy asks of it: does the whole accuracy circle around a
/// position lie inside?
///
/// Edges are straight lines between positions in longitude/latitude, as RFC 7946 §3.1.1 defines them.
/// Distances from a position to the edges are in metres on the WGS 84 ellipsoid (see ``test(latitude:longitude:radiusMeters:)``
/// for the method and its error bound).
public final class Geofence: Sendable, Hashable, CustomStringConvertible {
    /// The geometry as given, kept to write the allowlist back unchanged.
    public let geoJSON: JSONValue
    /// Polygons, each an outer ring then its holes; rings closed (first position repeated last).
    let polygons: [[[Position]]]
    public let vertexCount: Int

    struct Position: Sendable, Hashable {
        var longitude: Double
        var latitude: Double
    }

    /// Reads a GeoJSON geometry: a Polygon or a MultiPolygon, or a Feature or FeatureCollection of them.
    public init(geoJSON: JSONValue) throws(GeofenceError) {
        self.geoJSON = geoJSON
        self.polygons = try Self.polygons(of: geoJSON)
        self.vertexCount = polygons.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count - 1 } }
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
        "fence of \(polygons.count) polygon\(polygons.count == 1 ? "" : "s"), \(vertexCount) vertices"
    }

    /// Where a circle of `radiusMeters` around a position lies relative to the fence.
    ///
    /// Method: the position must lie inside (even–odd over all rings in longitude/latitude), and every edge
    /// must be at least `radiusMeters` away. An edge's distance is measured in the plane tangent to the
    /// WGS 84 ellipsoid at the position, with the meridional and prime-vertical radii of curvature there.
    public func test(latitude: Double, longitude: Double, radiusMeters: Double) -> FenceTest {
        guard contains(latitude: latitude, longitude: longitude) else { return .outside }
        let clearance = distanceToBoundary(latitude: latitude, longitude: longitude)
        return clearance >= radiusMeters ? .inside(clearanceMeters: clearance) : .crossesEdge(distanceMeters: clearance)
    }

    /// Whether the position itself lies inside (on an edge counts as outside).
    public func contains(latitude: Double, longitude: Double) -> Bool {
        polygons.contains { rings in
            var inside = false
            for ring in rings where Self.ringContains(ring, latitude: latitude, longitude: longitude) {
                inside.toggle()
            }
            return inside
        }
    }

    public static func == (lhs: Geofence, rhs: Geofence) -> Bool { lhs === rhs || lhs.geoJSON == rhs.geoJSON }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(vertexCount)
        hasher.combine(polygons.first?.first?.first)
    }

    private static func ringContains(_ ring: [Position], latitude: Double, longitude: Double) -> Bool {
        var inside = false
        var previous = ring[ring.count - 1]
        for current in ring {
            if (current.latitude > latitude) != (previous.latitude > latitude) {
                let crossing =
                    (previous.longitude - current.longitude) * (latitude - current.latitude)
                    / (previous.latitude - current.latitude) + current.longitude
                if longitude < crossing { inside.toggle() }
            }
            previous = current
        }
        return inside
    }

    /// Metres from the position to the nearest edge of any ring.
    private func distanceToBoundary(latitude: Double, longitude: Double) -> Double {
        let plane = TangentPlane(latitude: latitude)
        var nearest = Double.infinity
        for rings in polygons {
            for ring in rings {
                for index in 1..<ring.count {
                    let a = plane.project(ring[index - 1], from: latitude, longitude)
                    let b = plane.project(ring[index], from: latitude, longitude)
                    nearest = min(nearest, TangentPlane.distanceFromOrigin(toSegment: a, b))
                }
            }
        }
        return nearest
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
            rings.append(ring)
        }
        return rings
    }
}

/// Where an accuracy circle lies relative to a fence.
public enum FenceTest: Sendable, Hashable {
    /// Wholly inside; the centre is `clearanceMeters` from the nearest edge.
    case inside(clearanceMeters: Double)
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
