/// A place an agent may be in: a region, optionally narrowed to a state, optionally to a city
/// in that state; optionally with a fence that a signed position must lie in.
public struct AllowedPlace: Sendable, Hashable, Codable, CustomStringConvertible {
    public var region: String
    public var state: String?
    public var city: String?
    /// The place's area: inline (`fence`, a GeoJSON geometry) or read from `fenceFile`.
    public var fence: Geofence?

    /// Whether the place is fenced (inline or by file, loaded or not).
    public var isFenced: Bool { fence != nil || fenceFile != nil }
    /// `fence_file`: a GeoJSON file, relative to the allowlist's directory; the allowlist file loads it
    /// into ``fence`` (``AllowlistDocument/resolveFenceFiles(_:)``), and saving writes the path back. A place
    /// whose file is not loaded (built in memory) contains no position: the policy fails closed.
    public var fenceFile: String?

    enum CodingKeys: String, CodingKey {
        case region, state, city, fence
        case fenceFile = "fence_file"
    }

    public init(region: String, state: String? = nil, city: String? = nil, fence: Geofence? = nil, fenceFile: String? = nil) {
        self.region = region
        self.state = state
        self.city = city
        self.fence = fence
        self.fenceFile = fenceFile
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        region = try container.decode(String.self, forKey: .region)
        state = try container.decodeIfPresent(String.self, forKey: .state)
        city = try container.decodeIfPresent(String.self, forKey: .city)
        fenceFile = try container.decodeIfPresent(String.self, forKey: .fenceFile)
        if let geometry = try container.decodeIfPresent(JSONValue.self, forKey: .fence) {
            guard fenceFile == nil else {
                throw DecodingError.dataCorruptedError(
                    forKey: .fence, in: container, debugDescription: "a place has either fence or fence_file, not both")
            }
            do {
                fence = try Geofence(geoJSON: geometry)
            } catch {
                throw DecodingError.dataCorruptedError(forKey: .fence, in: container, debugDescription: error.description)
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(region, forKey: .region)
        try container.encodeIfPresent(state, forKey: .state)
        try container.encodeIfPresent(city, forKey: .city)
        if let fenceFile {
            try container.encode(fenceFile, forKey: .fenceFile)
        } else if let fence {
            try container.encode(fence.geoJSON, forKey: .fence)
        }
    }

    /// "US", "US/Texas", "US/Texas/Austin".
    public init?(path: String) {
        guard let parsed = GeographicRegion(path: path) else { return nil }
        self.init(region: parsed.region, state: parsed.state, city: parsed.city)
    }

    /// Hierarchical match: the region must match, and the state and city too wherever this place
    /// names them. Names compare case-insensitively with whitespace normalized. A city is only
    /// ever matched together with its state, so "US/California/Austin" never passes as
    /// "US/Texas/Austin".
    public func contains(_ location: GeographicRegion) -> Bool {
        guard PlaceName(region) == PlaceName(location.region) else { return false }
        if let state {
            guard let locationState = location.state, PlaceName(state) == PlaceName(locationState) else { return false }
        }
        if let city {
            guard let locationCity = location.city, PlaceName(city) == PlaceName(locationCity) else { return false }
        }
        return true
    }

    /// A region is required; a city needs a state (a city alone would be ambiguous).
    public var validationProblem: String? {
        if region.trimmingWhitespace().isEmpty { return "allowed place has an empty region" }
        if let state, state.trimmingWhitespace().isEmpty { return "allowed place \(description) has an empty state" }
        if let city, city.trimmingWhitespace().isEmpty { return "allowed place \(description) has an empty city" }
        if city != nil, state == nil { return "allowed place \(description) names a city without its state" }
        return nil
    }

    public var description: String {
        [region, state, city].compactMap { $0 }.joined(separator: "/")
    }
}

/// A place name in its comparison form: case-folded, surrounding whitespace trimmed, inner runs
/// of whitespace collapsed to one space.
struct PlaceName: Hashable {
    let folded: String

    init(_ name: String) {
        if let folded = Self.foldedASCII(name) {
            self.folded = folded
            return
        }
        let words = name.unicodeScalars.split(whereSeparator: { $0.properties.isWhitespace })
        folded = words.map { word in
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: word)
            return String(scalars).lowercased()
        }.joined(separator: " ")
    }

    /// The common case without Unicode work: printable ASCII, words separated by single spaces.
    /// Lowercases it; nil for anything else (the general path decides).
    private static func foldedASCII(_ name: String) -> String? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(name.utf8.count)
        var previous = UInt8(ascii: " ")
        for byte in name.utf8 {
            guard byte > 0x20 && byte < 0x7F || byte == 0x20 && previous != 0x20 else { return nil }
            bytes.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
            previous = byte
        }
        guard previous != 0x20 else { return bytes.isEmpty ? "" : nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
