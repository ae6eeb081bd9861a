/// Where an agent says it is: the signed `geographic_region` claim.
public struct GeographicRegion: Sendable, Hashable, Codable, CustomStringConvertible {
    public var region: String
    public var state: String?
    public var city: String?

    public init(region: String, state: String? = nil, city: String? = nil) {
        self.region = region
        self.state = state
        self.city = city
    }

    /// Parses the prototype's "Country/State/City" form ("US/California/Santa Clara", "US/Texas", "US").
    public init?(path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.trimmingWhitespace() }
        guard (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(
            region: parts[0], state: parts.count > 1 ? parts[1] : nil, city: parts.count > 2 ? parts[2] : nil)
    }

    /// A region is always present; a city only below a state.
    public var isWellFormed: Bool {
        func ok(_ part: String?) -> Bool { part.map { !$0.isBlank && $0.utf8.count <= 128 } ?? true }
        guard ok(region), !region.isBlank, ok(state), ok(city) else { return false }
        return !(city != nil && state == nil)
    }

    public var description: String {
        [region, state, city].compactMap { $0 }.joined(separator: "/")
    }
}

extension StringProtocol {
    /// Whether the text is empty or only whitespace: what `trimmingWhitespace().isEmpty` says, without
    /// building the trimmed string.
    var isBlank: Bool {
        unicodeScalars.allSatisfy { scalar in
            // ASCII's White_Space characters are exactly tab to carriage return, and space.
            scalar.isASCII ? scalar == " " || (0x09...0x0D).contains(scalar.value) : scalar.properties.isWhitespace
        }
    }

    /// Trims surrounding whitespace without Foundation.
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[first...last])
        return String(result)
    }
}
