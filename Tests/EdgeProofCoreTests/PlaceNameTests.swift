import Testing

@testable import EdgeProofCore

@Suite("Place names: case and whitespace folding")
struct PlaceNameTests {
    /// The general rule, spelled out: split on Unicode whitespace, lowercase, join with one space.
    static func reference(_ name: String) -> String {
        name.split(whereSeparator: { $0.isWhitespace }).map { $0.lowercased() }.joined(separator: " ")
    }

    @Test(arguments: [
        "Santa Clara", "SANTA CLARA", "santa clara", "  Santa   Clara ", "Santa\tClara", "US", "", " ", "São Paulo",
        "ÅLAND", "Baden-Württemberg", "New\u{00A0}York", "x", "A B C", "Zürich ", "İstanbul",
    ])
    func foldsLikeTheGeneralRule(name: String) {
        #expect(PlaceName(name).folded == Self.reference(name), "\(name)")
    }
}
