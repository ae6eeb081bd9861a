import Crypto
import EdgeProofCore
import Foundation
import Testing

/// `SignedEnvelope.sign` writes header and claims with its own JSON writer; these hold it byte for byte
/// to what `JSONEncoder` makes of the same values with the contract's options.
@Suite("Claims and header JSON")
struct ClaimsEncodingTests {
    private struct FixedSigner: EnvelopeSigner {
        var algorithm: SignatureAlgorithm
        var publicKeyHash = PublicKeyHash(subjectPublicKeyInfo: [1, 2, 3])
        func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8] { [UInt8](repeating: 1, count: 64) }
    }

    private static func referenceJSON(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    private static func claims(
        region: GeographicRegion = GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
        geolocation: Geolocation? = nil,
        service: ServiceInfo = ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: "agent-001"),
        samples: [MetricSample]
    ) -> EnvelopeClaims {
        EnvelopeClaims(
            agentName: "agent-001", publicKeyHash: PublicKeyHash(subjectPublicKeyInfo: [9, 9]),
            nonce: "AQAAAZNk8x2y3Jw5cQ-8_pVzJ7R0o9xq1vX0b7T6y0nJ8hZ2", timestamp: "2026-11-21T10:00:00.123Z",
            geographicRegion: region, geolocation: geolocation,
            metrics: MetricsBatch(service: service, samples: samples))
    }

    /// Signs `claims` and checks the payload and protected header against `JSONEncoder`.
    private func expectEncoderBytes(_ claims: EnvelopeClaims, _ comment: Comment? = nil) async throws {
        for algorithm in SignatureAlgorithm.allCases {
            let envelope = try await SignedEnvelope.sign(claims, with: FixedSigner(algorithm: algorithm))
            let payload = try #require(Base64URL.decode(envelope.payload))
            #expect(payload == (try Self.referenceJSON(claims)), comment)
            let header = try #require(Base64URL.decode(envelope.protected))
            #expect(header == (try Self.referenceJSON(envelope.header)))
        }
    }

    @Test("a typical agent envelope: system sample, region with state and city")
    func typicalClaims() async throws {
        let now = "2026-11-21T10:00:00.123Z"
        try await expectEncoderBytes(
            Self.claims(samples: [
                MetricSample(
                    timestamp: now, metricType: "system",
                    values: [
                        "cpu_percent": 12.5, "cpu_count": 2, "memory_total_bytes": 8_241_434_624,
                        "memory_percent": 41.27, "disk_usage_percent": 63.1, "load_average_1m": 0.42,
                        "network_rx_bytes": 123_456_789_012, "uptime_seconds": 10_943.55,
                    ])
            ]))
    }

    @Test("every optional set, and every optional left out")
    func optionals() async throws {
        let sample = MetricSample(timestamp: "t", metricType: "system", values: ["a": 1])
        try await expectEncoderBytes(
            Self.claims(
                geolocation: Geolocation(
                    latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise"),
                samples: [sample]))
        try await expectEncoderBytes(
            Self.claims(
                region: GeographicRegion(region: "US"), geolocation: Geolocation(latitude: 0, longitude: -0.0),
                samples: []))
        try await expectEncoderBytes(
            Self.claims(region: GeographicRegion(region: "US", state: "Texas"), samples: [sample, sample]))
        // The receiver's evidence: every field of the geolocation claim, and a claim without a fix.
        try await expectEncoderBytes(
            Self.claims(
                geolocation: Geolocation(
                    latitude: 37.3541, longitude: -121.9552, altitude: -10.25, accuracyMeters: 4.9, source: .gnss,
                    fixMode: .threeDimensional, fixTime: "2026-12-02T19:44:01.940Z",
                    sensor: LocationSensor(driver: "u-blox", model: "NEO-M8N", firmware: "SPG 3.01 \"x\""),
                    quality: "GNSS", type: "precise"),
                samples: [sample]))
        try await expectEncoderBytes(
            Self.claims(
                geolocation: Geolocation(
                    latitude: nil, longitude: nil, source: .gnss, fixMode: FixMode.none, sensor: LocationSensor(driver: "NMEA0183")),
                samples: [sample]))
        try await expectEncoderBytes(Self.claims(geolocation: Geolocation.largestMeasured, samples: [sample]))
    }

    @Test("numbers: integers, fractions, exponents, extremes")
    func numbers() async throws {
        let numbers: [Double] = [
            0, -0.0, 1, -1, 0.1, 0.42, 12.5, -273.15, 100, 1_234_567_890, 9_007_199_254_740_992, 9_007_199_254_740_994,
            1e15, 1e16, 1e17, 1.5e300, 1.2345678901234568e20, 1e-4, 1e-5, 1e-7, 2.5e-308, .pi,
            .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
            1.0 / 3.0, 2.0 / 3.0 * 1e-10,
        ]
        var values: [String: JSONValue] = [:]
        for (index, number) in numbers.enumerated() { values[String(format: "n%02d", index)] = .number(number) }
        try await expectEncoderBytes(
            Self.claims(samples: [MetricSample(timestamp: "t", metricType: "x", values: values)]))
    }

    @Test("strings that need escapes, non-ASCII text, keys in byte order, nested application values")
    func stringsAndNesting() async throws {
        let awkward = "quote \" backslash \\ slash / tab \t newline \n cr \r bs \u{08} ff \u{0C} nul \u{00} "
            + "us \u{1F} del \u{7F} é ß 東京 🚀 \u{2028}"
        let values: [String: JSONValue] = [
            "B": 1, "a": 2, "a10": 3, "a9": 4, "_": 5, "é": 6, "Z": 7, "": 8, "aa": 9, awkward: .string(awkward),
            "nested": ["list": [1, "two", true, false, nil, ["deep": [[], [:]]]], "empty": [:]],
            "flags": [true, false], "nothing": nil,
        ]
        try await expectEncoderBytes(
            Self.claims(
                region: GeographicRegion(region: "DE", state: "Baden-Württemberg", city: "Mannheim / \"Quadrate\""),
                service: ServiceInfo(name: awkward, version: "1.0.0-β", instanceID: "id\\1"),
                samples: [MetricSample(timestamp: "t", metricType: "application", values: values)]))
    }

    @Test("a character that needs an escape, at every position of a long string (the scan takes 16 bytes at a time)")
    func escapesAtEveryPosition() async throws {
        let plain = Array(repeating: "aZ09-_~é", count: 6).joined()  // 54 bytes, none escaped
        for special in ["\"", "\\", "\u{00}", "\u{1F}", "\n", "\u{7F}"] {
            for position in 0...plain.count {
                var text = plain
                text.insert(contentsOf: special, at: text.index(text.startIndex, offsetBy: position))
                try await expectEncoderBytes(
                    Self.claims(service: ServiceInfo(name: text, version: "1", instanceID: String(text.prefix(17))), samples: []),
                    "\(special.debugDescription) at \(position)")
            }
        }
    }

    @Test("random strings and numbers", arguments: 0..<20)
    func randomClaims(seed: Int) async throws {
        var generator = SystemRandomNumberGenerator()
        func randomString() -> String {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                let pick = Int.random(in: 0...3, using: &generator)
                let range: ClosedRange<UInt32> = [0...0x7F, 0...0x1F, 0x80...0x7FF, 0x800...0x10FFFF][pick]
                if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &generator)) { scalars.append(scalar) }
            }
            return String(scalars)
        }
        func randomNumber() -> Double {
            while true {
                let number = Double(bitPattern: UInt64.random(in: .min ... .max, using: &generator))
                if number.isFinite { return Bool.random(using: &generator) ? number : number.rounded() }
            }
        }
        var values: [String: JSONValue] = [:]
        for _ in 0..<10 {
            values[randomString()] = Bool.random(using: &generator) ? .number(randomNumber()) : .string(randomString())
        }
        try await expectEncoderBytes(
            Self.claims(
                region: GeographicRegion(region: randomString(), state: randomString(), city: randomString()),
                geolocation: Geolocation(latitude: randomNumber(), longitude: randomNumber(), quality: randomString()),
                samples: [MetricSample(timestamp: randomString(), metricType: randomString(), values: values)]),
            "seed \(seed)")
    }

    @Test("a number JSON cannot carry fails signing, as with JSONEncoder")
    func refusesNonFiniteNumbers() async throws {
        for number in [Double.nan, .infinity, -.infinity] {
            let sample = MetricSample(timestamp: "t", metricType: "x", values: ["bad": .number(number)])
            let claims = Self.claims(samples: [sample])
            await #expect(throws: EncodingError.self) {
                _ = try await SignedEnvelope.sign(claims, with: FixedSigner(algorithm: .es256))
            }
        }
    }
}
