/// The signed `geolocation` claim: where the device's own hardware says it is, with the quality of that
/// reading. Semantics after EAT's location claim (RFC 9711): WGS 84 degrees, `accuracy_m` the radius
/// in metres of the circle that holds the true position with 95 % confidence. Added to EAT: the
/// `source`, the `fix_mode`, the `fix_time` and the `sensor`, which the policy decides on.
///
/// Envelopes older than these fields carry only latitude, longitude and perhaps `accuracy_m`,
/// `quality` and `type`; they still verify, and the policy reads them as `source: configured`.
public struct Geolocation: Sendable, Hashable, Codable {
    /// Degrees north, WGS 84; nil when there is no fix (`fix_mode: none`).
    public var latitude: Double?
    /// Degrees east, WGS 84; nil when there is no fix.
    public var longitude: Double?
    /// Metres above the WGS 84 ellipsoid (gpsd's `altHAE`); only for a 3-D fix.
    public var altitude: Double?
    /// Radius in metres of the 95 % confidence circle around the position; nil when unknown.
    public var accuracyMeters: Double?
    /// Where the position comes from; nil in envelopes older than this field.
    public var source: LocationSource?
    public var fixMode: FixMode?
    /// When the receiver took the fix, ISO 8601 UTC; the policy's fix age is the signing time minus this.
    public var fixTime: String?
    /// The receiver, as it reports itself.
    public var sensor: LocationSensor?
    /// Free text of the first contract ("GNSS", "manual"): read, never decided on.
    public var quality: String?
    /// Free text of the first contract: read, never decided on.
    public var type: String?

    enum CodingKeys: String, CodingKey {
        case latitude, longitude, altitude
        case accuracyMeters = "accuracy_m"
        case source
        case fixMode = "fix_mode"
        case fixTime = "fix_time"
        case sensor, quality, type
    }

    public init(
        latitude: Double?, longitude: Double?, altitude: Double? = nil, accuracyMeters: Double? = nil,
        source: LocationSource? = nil, fixMode: FixMode? = nil, fixTime: String? = nil, sensor: LocationSensor? = nil,
        quality: String? = nil, type: String? = nil
    ) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.accuracyMeters = accuracyMeters
        self.source = source
        self.fixMode = fixMode
        self.fixTime = fixTime
        self.sensor = sensor
        self.quality = quality
        self.type = type
    }

    /// The position, when the claim has one.
    public var position: (latitude: Double, longitude: Double)? {
        guard let latitude, let longitude, fixMode != FixMode.none else { return nil }
        return (latitude, longitude)
    }

    /// The source the policy ranks: envelopes without one count as `configured`.
    public var effectiveSource: LocationSource { source ?? .configured }

    /// Why this claim cannot be what a device measured, or nil: coordinates out of range or only one of
    /// the pair, a negative or non-finite accuracy, a fix mode that contradicts the position, a
    /// `fix_time` that is not ISO 8601 UTC, sensor texts too long.
    public var implausibility: String? {
        if (latitude == nil) != (longitude == nil) { return "geolocation has only one of latitude and longitude" }
        if let latitude, !(latitude.isFinite && (-90...90).contains(latitude)) {
            return "geolocation latitude is outside -90...90"
        }
        if let longitude, !(longitude.isFinite && (-180...180).contains(longitude)) {
            return "geolocation longitude is outside -180...180"
        }
        if let altitude, !altitude.isFinite { return "geolocation altitude is not a finite number" }
        if let accuracyMeters, !(accuracyMeters.isFinite && accuracyMeters >= 0) {
            return "geolocation accuracy_m must be a finite number of metres, at least 0"
        }
        switch fixMode {
        case .none?:
            if latitude != nil { return "geolocation says fix_mode none but carries a position" }
        case .twoDimensional?, .threeDimensional?:
            if latitude == nil { return "geolocation says fix_mode \(fixMode?.rawValue ?? "") but carries no position" }
        case nil:
            if latitude == nil { return "geolocation carries neither a position nor fix_mode none" }
        }
        if fixMode == .twoDimensional, altitude != nil { return "geolocation says fix_mode 2d but carries an altitude" }
        if let fixTime, Timestamp.date(from: fixTime) == nil { return "geolocation fix_time is not an ISO 8601 UTC time" }
        if let sensor, let problem = sensor.implausibility { return problem }
        return nil
    }

    /// Latitude within ±90, longitude within ±180, accuracy non-negative, fields consistent.
    public var isPlausible: Bool { implausibility == nil }

    /// A measured position with every field at its longest, for sizing envelopes before the fix is known
    /// (``EnvelopeBudget``): an agent reading a receiver budgets for this.
    public static let largestMeasured = Geolocation(
        latitude: -89.123_456_789_012_34, longitude: -179.123_456_789_012_3, altitude: -12_345.678_901_234_56,
        accuracyMeters: 12_345.678_901_234_56, source: .mobileNetwork, fixMode: .threeDimensional,
        fixTime: "2026-01-01T00:00:00.000Z",
        sensor: LocationSensor(
            driver: String(repeating: "\"", count: LocationSensor.maximumTextBytes),
            model: String(repeating: "\"", count: LocationSensor.maximumTextBytes),
            firmware: String(repeating: "\"", count: LocationSensor.maximumTextBytes)))
}

/// Where a position comes from, from the strongest evidence to the weakest.
public enum LocationSource: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// A GNSS receiver on the device (gpsd).
    case gnss
    /// Cell towers.
    case mobileNetwork = "mobile-network"
    /// Wi-Fi access points.
    case wifi
    /// An IP address's registration: what the first HTTP prototype had.
    case ip
    /// Typed into a configuration file: no evidence at all.
    case configured

    /// Higher is stronger: `gnss` 4 down to `configured` 0.
    public var strength: Int {
        switch self {
        case .gnss: 4
        case .mobileNetwork: 3
        case .wifi: 2
        case .ip: 1
        case .configured: 0
        }
    }

    /// Weaker sources sort first: `minimum ≤ source` is "at least as strong as".
    public static func < (lhs: LocationSource, rhs: LocationSource) -> Bool { lhs.strength < rhs.strength }
}

/// The receiver's fix: none, horizontal only, or with altitude.
public enum FixMode: String, Sendable, Hashable, Codable, CaseIterable {
    case none
    case twoDimensional = "2d"
    case threeDimensional = "3d"
}

/// The location receiver as it reports itself (gpsd's DEVICE: `driver`, and the model and firmware its
/// `subtype`/`subtype1` name). Approved-sensor rules match these texts.
public struct LocationSensor: Sendable, Hashable, Codable {
    /// gpsd's driver name ("NMEA0183", "u-blox", "SiRF").
    public var driver: String
    public var model: String?
    public var firmware: String?

    public init(driver: String, model: String? = nil, firmware: String? = nil) {
        self.driver = driver
        self.model = model
        self.firmware = firmware
    }

    /// The longest text a field may hold, in bytes.
    public static let maximumTextBytes = 128

    /// Each text printable ASCII of at most ``maximumTextBytes``, the driver not empty: receivers report
    /// plain identifiers, and a bounded text keeps the envelope's size computable before signing.
    public var implausibility: String? {
        if driver.isEmpty { return "geolocation sensor driver is empty" }
        for text in [driver, model, firmware].compactMap({ $0 }) {
            guard text.utf8.count <= Self.maximumTextBytes, text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
                return "geolocation sensor texts must be printable ASCII of at most \(Self.maximumTextBytes) bytes"
            }
        }
        return nil
    }

    /// `text` as a sensor field: characters outside printable ASCII replaced by `?`, cut to
    /// ``maximumTextBytes``; nil for an empty text.
    public static func field(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        let bytes = text.utf8.prefix(maximumTextBytes).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
