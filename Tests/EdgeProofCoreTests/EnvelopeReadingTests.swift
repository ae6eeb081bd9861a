import EdgeProofTesting
import Foundation
import Testing

@testable import EdgeProofCore

/// `SignedEnvelope(parsing:)` is the only reading of an envelope. Whatever it accepts must be read the
/// same by a lenient reader too (Foundation's `JSONDecoder`, which other tools use on stored records):
/// strictness may refuse more, never read differently.
@Suite("Envelope reading: what the strict reader takes, Foundation reads to the same claims")
struct EnvelopeReadingTests {
    /// Parses `bytes`; when accepted, checks that `JSONDecoder` reads the same header and claims.
    /// Returns whether the envelope was accepted.
    @discardableResult
    private func expectSameReading(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard let envelope = try? SignedEnvelope(parsing: bytes) else { return false }
        let claims = Base64URL.decode(envelope.payload).flatMap { try? JSONDecoder().decode(EnvelopeClaims.self, from: $0) }
        #expect(claims == envelope.claims, "\(String(decoding: bytes.prefix(300), as: UTF8.self))", sourceLocation: sourceLocation)
        let header = Base64URL.decode(envelope.protected).flatMap { try? JSONDecoder().decode(JWSHeader.self, from: $0) }
        #expect(header == envelope.header, sourceLocation: sourceLocation)
        return true
    }

    static let keyHash = String(repeating: "ab", count: 32)
    static let header = #"{"alg":"ES256","kid":"\#(keyHash)","typ":"edgeproof+jws"}"#
    static let signature = Base64URL.encode([UInt8](repeating: 7, count: 64))

    static func envelope(header: [UInt8] = Array(header.utf8), claims: [UInt8]) -> [UInt8] {
        Array(#"{"protected":"\#(Base64URL.encode(header))","payload":"\#(Base64URL.encode(claims))","signature":"\#(signature)"}"#.utf8)
    }

    /// Claims as agents and other JOSE libraries write them, including the unusual but valid.
    static let claims: [String] = [
        #"{"v":1,"agent_name":"agent-001","tpm_public_key_hash":"\#(keyHash)","nonce":"n-1","timestamp":"2026-11-18T11:06:40.125Z","geographic_region":{"region":"US","state":"California","city":"Santa Clara"},"geolocation":{"latitude":37.35,"longitude":-121.95,"accuracy_m":15,"quality":"GNSS","type":"precise"},"metrics":{"service":{"name":"edgeproof-agent","version":"1.0.0","instance_id":"agent-001"},"samples":[{"timestamp":"2026-11-18T11:06:40.125Z","metric_type":"system","values":{"cpu_percent":12.5,"memory_used_bytes":1048576,"nested":{"a":[1,2,{"b":null}]},"ok":true,"label":"Z\u00fcrich \/ \"x\""}}]}}"#,
        #"{ "metrics" : { "samples" : [ ] , "service" : { "instance_id" : "i" , "version" : "2" , "name" : "n" } } , "geolocation" : null , "geographic_region" : { "region" : "DE" , "state" : null , "city" : null } , "timestamp" : "2026-11-18T11:06:40Z" , "nonce" : "n" , "tpm_public_key_hash" : "\#(keyHash)" , "agent_name" : "a" , "v" : 1 , "extension_field" : [ "kept" , { } ] }"#,
        "{\"v\":1,\"agent_name\":\"edge.node_7\",\"tpm_public_key_hash\":\"\(keyHash)\",\"nonce\":\"n\",\"timestamp\":\"2026-11-18T11:06:40.125+00:00\",\"geographic_region\":{\"region\":\"BR\",\"state\":\"S\u{00E3}o Paulo\",\"city\":\"S\u{00E3}o Paulo\"},\"metrics\":{\"service\":{\"name\":\"n\",\"version\":\"v\",\"instance_id\":\"i\"},\"samples\":[{\"timestamp\":\"t\",\"metric_type\":\"application\",\"values\":{}},{\"timestamp\":\"t\",\"metric_type\":\"system\",\"values\":{\"x\":-0.0,\"y\":1e-5}}]}}",
    ]

    /// Claims with a receiver's position, as agents with `location.source: gpsd` sign them.
    static let gnssClaims =
        #"{"v":1,"agent_name":"agent-006","tpm_public_key_hash":"\#(keyHash)","nonce":"n-1","timestamp":"2026-11-18T11:06:40.125Z","geographic_region":{"region":"US","state":"California","city":"Santa Clara"},"geolocation":{"accuracy_m":4.9,"altitude":-10,"fix_mode":"3d","fix_time":"2026-11-18T11:06:39.940Z","latitude":37.3541,"longitude":-121.9552,"sensor":{"driver":"NMEA0183"},"source":"gnss"},"metrics":{"service":{"name":"edgeproof-agent","version":"1.0.0","instance_id":"agent-006"},"samples":[]}}"#

    @Test("a receiver's position and a claim without a fix are read, to Foundation's claims")
    func readsGNSSClaims() {
        #expect(expectSameReading(Self.envelope(claims: Array(Self.gnssClaims.utf8))))
        let noFix = Self.gnssClaims.replacingOccurrences(
            of: #""accuracy_m":4.9,"altitude":-10,"fix_mode":"3d","fix_time":"2026-11-18T11:06:39.940Z","latitude":37.3541,"longitude":-121.9552,"#,
            with: #""fix_mode":"none","#)
        #expect(noFix != Self.gnssClaims)
        #expect(expectSameReading(Self.envelope(claims: Array(noFix.utf8))))
    }

    @Test("an implausible or unknown geolocation is refused", arguments: [
        (#""source":"gnss""#, #""source":"satellite""#),
        (#""fix_mode":"3d""#, #""fix_mode":"4d""#),
        (#""fix_mode":"3d""#, #""fix_mode":"none""#),
        (#""fix_mode":"3d""#, #""fix_mode":"2d""#),
        (#""fix_time":"2026-11-18T11:06:39.940Z""#, #""fix_time":"11:06:39""#),
        (#""accuracy_m":4.9"#, #""accuracy_m":-1"#),
        (#""latitude":37.3541,"#, ""),
        (#""driver":"NMEA0183""#, #""driver":"NMEA\u00000183""#),
        (#""driver":"NMEA0183""#, #""driver":"""#),
        (#""sensor":{"driver":"NMEA0183"}"#, #""sensor":{"model":"x"}"#),
    ])
    func refusesImplausibleGeolocation(original: String, replacement: String) {
        let variant = Self.gnssClaims.replacingOccurrences(of: original, with: replacement)
        #expect(variant != Self.gnssClaims)
        #expect(!expectSameReading(Self.envelope(claims: Array(variant.utf8))), "\(variant)")
    }

    @Test("well-formed envelopes are read, to Foundation's claims", arguments: claims)
    func readsWellFormedEnvelopes(claims: String) {
        #expect(expectSameReading(Self.envelope(claims: Array(claims.utf8))))
    }

    @Test("signed envelopes and the bad-payload templates are read")
    func readsSignedEnvelopes() async throws {
        for template in BadPayloads().templates {
            #expect(expectSameReading(Array(template)))
        }
        for algorithm in SignatureAlgorithm.allCases {
            let signer = try TestSigner.make(algorithm)
            let signed = try await SignedEnvelope.sign(Fixtures.claims(keyHash: signer.publicKeyHash, samples: 5), with: signer)
            #expect(expectSameReading(Array(signed.serialized())))
        }
    }

    @Test("checks after reading refuse (version, agent name, kid, timestamp, region, latitude, nonce)")
    func refusesCheckedClaims() {
        let base = Self.claims[0]
        let variants = [
            base.replacingOccurrences(of: #""v":1"#, with: #""v":2"#),
            base.replacingOccurrences(of: #""agent_name":"agent-001""#, with: #""agent_name":"a/b""#),
            base.replacingOccurrences(of: #""tpm_public_key_hash":"ab"#, with: #""tpm_public_key_hash":"cd"#),
            base.replacingOccurrences(of: #""timestamp":"2026-11-18T11:06:40.125Z","geo"#, with: #""timestamp":"yesterday","geo"#),
            base.replacingOccurrences(of: #""region":"US""#, with: #""region":" ""#),
            base.replacingOccurrences(of: #""latitude":37.35"#, with: #""latitude":137.35"#),
            base.replacingOccurrences(of: #""nonce":"n-1""#, with: #""nonce":"""#),
        ]
        for variant in variants {
            #expect(variant != base)
            #expect(!expectSameReading(Self.envelope(claims: Array(variant.utf8))), "\(variant)")
        }
    }

    @Test("no generated bad payload is read")
    func refusesBadPayloads() {
        for payload in MalformedEnvelopeTests.corpus.payloads where payload.bytes.count <= SignedEnvelope.defaultMaximumSize {
            #expect(!expectSameReading(Array(payload.bytes)), "\(payload.category)")
        }
    }

    @Test("30,000 mutated claims, headers and envelopes: whatever is read, Foundation reads the same")
    func agreesOnMutations() {
        var random = SplitMix64(seed: 2026)
        let alphabet = Array(#"{}[]:,"\ \/0123456789-+.eEtrufalsn_abuU"#.utf8) + [0x00, 0x0A, 0x7F, 0x80, 0xC3, 0xFF]
        func mutated(_ original: [UInt8]) -> [UInt8] {
            var bytes = original
            for _ in 0...Int.random(in: 0...2, using: &random) where !bytes.isEmpty {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                let byte = alphabet.randomElement(using: &random)!
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[index] = byte
                case 1: bytes.remove(at: index)
                case 2: bytes.insert(byte, at: index)
                default:
                    let end = min(bytes.count, index + Int.random(in: 1...12, using: &random))
                    bytes.insert(contentsOf: bytes[index..<end], at: index)
                }
            }
            return bytes
        }
        var read = 0
        for round in 0..<30_000 {
            let claims = Array(Self.claims[round % Self.claims.count].utf8)
            let bytes: [UInt8]
            switch round % 5 {
            case 0: bytes = Self.envelope(header: mutated(Array(Self.header.utf8)), claims: claims)
            case 1: bytes = mutated(Self.envelope(claims: claims))
            default: bytes = Self.envelope(claims: mutated(claims))
            }
            if expectSameReading(bytes) { read += 1 }
        }
        // Many mutations keep the JSON valid (a digit for a digit) and many break it.
        #expect(read > 1_000)
        #expect(read < 29_000)
    }
}

@Suite("Protected header cache")
struct ProtectedHeaderCacheTests {
    @Test("a header read once is kept under its exact protected string")
    func keepsReadHeaders() throws {
        let header = #"{"alg":"RS256","kid":"\#(String(repeating: "5e", count: 32))","typ":"edgeproof+jws"}"#
        let protected = Base64URL.encode(Array(header.utf8))
        let envelope = Array(
            #"{"protected":"\#(protected)","payload":"\#(Base64URL.encode(Array(EnvelopeReadingTests.claims[0].utf8)))","signature":"AA"}"#
                .utf8)
        _ = try? SignedEnvelope(parsing: envelope)
        let cached = try #require(ProtectedHeaderCache.shared.header(for: protected))
        #expect(cached.algorithm == .rs256)
        #expect(cached.keyID.hex == String(repeating: "5e", count: 32))
    }

    @Test("a refused header is never kept")
    func skipsRefusedHeaders() {
        let header = #"{"alg":"none","kid":"\#(String(repeating: "ab", count: 32))","typ":"edgeproof+jws"}"#
        let protected = Base64URL.encode(Array(header.utf8))
        let envelope = Array(
            #"{"protected":"\#(protected)","payload":"\#(Base64URL.encode(Array(EnvelopeReadingTests.claims[0].utf8)))","signature":"AA"}"#
                .utf8)
        #expect(throws: ValidationFailure.self) { try SignedEnvelope(parsing: envelope) }
        #expect(ProtectedHeaderCache.shared.header(for: protected) == nil)
    }

    @Test("holds at most its capacity, emptying itself when full")
    func staysBounded() throws {
        let cache = ProtectedHeaderCache(capacity: 3)
        let header = JWSHeader(algorithm: .es256, keyID: try #require(PublicKeyHash(hex: String(repeating: "0", count: 64))))
        for index in 0..<10 {
            cache.insert(header, for: "header-\(index)")
            #expect(cache.count <= 3)
        }
        #expect(cache.header(for: "header-9") == header)
    }
}

@Suite("Workload-Geo-ID: read strictly, and the same as JSONDecoder reads it")
struct WorkloadGeoIDReadingTests {
    @Test("5,000 mutated values: what the strict reader takes, JSONDecoder reads the same")
    func agreesOnMutations() {
        let original = Array(
            #"{"client_type":"thick","client_workload_id":"agent-001","client_workload_location":{"city":"Santa Clara","region":"US","state":"California"},"client_workload_location_quality":"GNSS","client_workload_location_type":"geographic-region"}"#
                .utf8)
        let alphabet = Array(#"{}[]:,"\ 0123456789-.etrunl_aZ"#.utf8) + [0x00, 0x80, 0xFF]
        var random = SplitMix64(seed: 77)
        var read = 0
        for round in 0..<5_000 {
            var bytes = original
            for _ in 0..<(round % 3) where !bytes.isEmpty {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                if Bool.random(using: &random) {
                    bytes[index] = alphabet.randomElement(using: &random)!
                } else {
                    bytes.remove(at: index)
                }
            }
            guard let strict = try? StrictJSONDecoder().decode(WorkloadGeoID.self, from: bytes) else { continue }
            read += 1
            #expect(strict == (try? JSONDecoder().decode(WorkloadGeoID.self, from: Data(bytes))), "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(read > 1_000)
    }

    @Test("a second member, a trailing comma or an escaped second name is a header mismatch")
    func refusesAmbiguousValues() async throws {
        let signer = try TestSigner.make(.es256)
        let envelope = try await SignedEnvelope.sign(Fixtures.claims(keyHash: signer.publicKeyHash), with: signer)
        let value = WorkloadGeoID(claims: envelope.claims).headerValue
        #expect(failureReason { () throws(ValidationFailure) in try envelope.checkProperties([(EnvelopeProperty.workloadGeoID, value)]) } == nil)
        let variants = [
            value.replacingOccurrences(of: #""client_type":"thick""#, with: #""client_type":"thick","client_workload_id":"agent-002""#),
            value.replacingOccurrences(of: #""region":"US""#, with: #""region":"US","region":"EU""#),
            value.replacingOccurrences(of: #""client_type":"thick""#, with: #""client_type":"thick","client\u005fworkload_id":"agent-001""#),
            String(value.dropLast()) + ",}",
        ]
        for variant in variants {
            #expect(variant != value)
            do throws(ValidationFailure) {
                try envelope.checkProperties([(EnvelopeProperty.workloadGeoID, variant)])
                Issue.record("accepted \(variant)")
            } catch {
                #expect(error.reason == .headerMismatch)
                #expect(error.message.contains("duplicate member") || error.message.contains("trailing comma"), "\(error)")
            }
        }
    }

    @Test("a Signature-Input with a member twice or an uppercase keyid does not parse")
    func refusesAmbiguousSignatureInput() throws {
        let hash = String(repeating: "ab", count: 32)
        let good = #"keyid="\#(hash)", created=1, expires=2, alg="ES256", nonce="n""#
        #expect(SignatureInput(parsing: good) != nil)
        #expect(SignatureInput(parsing: good + #", nonce="m""#) == nil)
        #expect(SignatureInput(parsing: good.replacingOccurrences(of: hash, with: hash.uppercased())) == nil)
        #expect(SignatureInput(parsing: good.replacingOccurrences(of: "created=1", with: "created=+1")) == nil)
    }
}
