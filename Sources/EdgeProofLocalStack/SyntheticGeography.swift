import EdgeProofCore
import Foundation

/// SplitMix64: a tiny, seedable, deterministic generator, so that every run of a fuzz suite or a benchmark
/// uses exactly the same values and a failure can be reproduced from its seed and index.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// Fences for benchmarks and tests: the kind of outline a city's boundary has.
public enum SyntheticFence {
    /// A GeoJSON Polygon: a non-convex ring of `vertices` positions some `radiusMeters` around a centre, the
    /// radius of each varying ±30 % (the same ring for the same arguments).
    public static func jagged(
        vertices: Int, latitude: Double = 37.3541, longitude: Double = -121.9552, radiusMeters: Double = 5000,
        seed: UInt64? = nil
    ) -> JSONValue {
        var generator = SplitMix64(seed: seed ?? UInt64(vertices))
        var ring: [JSONValue] = []
        for index in 0..<vertices {
            let angle = Double(index) / Double(vertices) * 2 * .pi
            let radius = radiusMeters * (0.7 + 0.6 * generator.unit())
            let north = radius * sin(angle) / 111_200
            let east = radius * cos(angle) / (111_320 * cos(latitude * .pi / 180))
            ring.append(.array([.number(longitude + east), .number(latitude + north)]))
        }
        ring.append(ring[0])
        return .object(["type": "Polygon", "coordinates": .array([.array(ring)])])
    }
}
