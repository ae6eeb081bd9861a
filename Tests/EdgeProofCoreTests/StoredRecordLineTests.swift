import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@Suite("StoredRecord JSON line")
struct StoredRecordLineTests {
    static func record(values: [String: JSONValue], geolocation: Geolocation?, region: GeographicRegion) -> StoredRecord {
        let base = #"""
            {"agent_name":"agent-001","collector":"collector-1","geographic_region":{"region":"US"},
             "kid":"abababababababababababababababababababababababababababababababab","metrics":{"samples":[],
             "service":{"instance_id":"agent-001","name":"edgeproof-agent","version":"1.0.0"}},"nonce":"AQAAAZ-nonce_token",
             "payload":"eyJ2IjoxfQ","protected":"eyJhbGciOiJFUzI1NiJ9","received_at":"2026-11-21T10:00:00.123Z",
             "signature":"c2lnbmF0dXJl","topic":"edgeproof/v1/verified/agent-001/metrics"}
            """#
        // A fixed record: decoding is the only public way to make one without an envelope.
        var record = (try? JSONDecoder().decode(StoredRecord.self, from: Data(base.utf8)))!
        record.geographicRegion = region
        record.geolocation = geolocation
        record.metrics.samples = [MetricSample(timestamp: "2026-11-21T10:00:00Z", metricType: "system", values: values)]
        record.metrics.samples.append(MetricSample(timestamp: "2026-11-21T10:00:01Z", metricType: "application", values: [:]))
        return record
    }

    static let cases: [StoredRecord] = [
        record(
            values: ["cpu_percent": 12.5, "memory_used_bytes": 1_234_567_890, "load": 0.42, "tiny": 1e-7, "huge": 1e300],
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS"),
            region: GeographicRegion(region: "US", state: "California", city: "Santa Clara")),
        record(
            values: [
                "text": "quote \" backslash \\ slash / newline \n tab \t bell \u{07} é 東京 🚀",
                "nested": ["list": [1, "two", true, .null, ["deep": false]], "empty": [:]], "negative": -3,
            ],
            geolocation: nil, region: GeographicRegion(region: "DE")),
    ]

    @Test(arguments: cases)
    func writesWhatJSONEncoderWrites(record: StoredRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = try record.jsonLine()
        #expect(try JSONDecoder().decode(StoredRecord.self, from: Data(line)) == record)
        #expect(String(decoding: line, as: UTF8.self) == String(decoding: try encoder.encode(record), as: UTF8.self))
    }

    private static let topic = "edgeproof/v1/verified/agent-001/metrics"

    /// An envelope around `claimsJSON` as another implementation might sign it (the signature is not
    /// checked here).
    private static func envelope(claimsJSON: String, header: String) throws -> SignedEnvelope {
        try SignedEnvelope(
            parsing: Fixtures.envelopeJSON(
                protected: Base64URL.encode(Data(header.utf8)), payload: Base64URL.encode(Data(claimsJSON.utf8)),
                signature: Base64URL.encode(Data(repeating: 7, count: 64))))
    }

    private static func claimsJSON(metrics: String, hash: PublicKeyHash) -> String {
        #"{"v":1,"nonce":"n-1","agent_name":"agent-001","tpm_public_key_hash":"\#(hash.hex)","#
            + #""timestamp":"2026-11-21T10:00:00Z","geographic_region":{"region":"US","state":"California"},"#
            + #""metrics":\#(metrics)}"#
    }

    @Test("the collector's line of one of our envelopes is byte for byte the re-encoded record")
    func collectorLineOfOurEnvelopeEqualsTheEncodedRecord() async throws {
        for algorithm in SignatureAlgorithm.allCases {
            let signer = try TestSigner.make(algorithm)
            let signed = try await SignedEnvelope.sign(Fixtures.claims(keyHash: signer.publicKeyHash, samples: 3), with: signer)
            let envelope = try SignedEnvelope(parsing: Data(try signed.serialized()))
            let record = StoredRecord(envelope: envelope, topic: Self.topic, collector: "collector-1", receivedAt: "t")
            let line = try StoredRecord.jsonLine(for: envelope, topic: Self.topic, collector: "collector-1", receivedAt: "t")
            #expect(line == (try record.jsonLine()))
        }
    }

    @Test("metrics signed in another member order and spacing are stored as signed, on one line")
    func keepsTheSignedMetricsText() throws {
        let hash = PublicKeyHash(subjectPublicKeyInfo: [1, 2, 3])
        let header = #"{"alg":"ES256","kid":"\#(hash.hex)","typ":"edgeproof+jws"}"#
        let metrics = #"{"service":{"version":"1.0.0","name":"other agent","instance_id":"agent-001"}, "samples":[]}"#
        let envelope = try Self.envelope(claimsJSON: Self.claimsJSON(metrics: metrics, hash: hash), header: header)
        let line = try StoredRecord.jsonLine(for: envelope, topic: Self.topic, collector: "collector-1", receivedAt: "t")
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""metrics":\#(metrics),"nonce""#))
        #expect(!line.contains(UInt8(ascii: "\n")))
        #expect(try JSONDecoder().decode(StoredRecord.self, from: Data(line)).metrics == envelope.claims.metrics)
    }

    @Test("pretty-printed signed metrics are re-encoded, so a newline never splits a record")
    func reencodesMetricsThatWouldSplitTheLine() throws {
        let hash = PublicKeyHash(subjectPublicKeyInfo: [1, 2, 3])
        let header = #"{"alg":"ES256","kid":"\#(hash.hex)","typ":"edgeproof+jws"}"#
        let metrics = "{\n  \"samples\": [],\n\t\"service\": {\"instance_id\": \"agent-001\", \"name\": \"a\", \"version\": \"1\"}\r\n}"
        let envelope = try Self.envelope(claimsJSON: Self.claimsJSON(metrics: metrics, hash: hash), header: header)
        let line = try StoredRecord.jsonLine(for: envelope, topic: Self.topic, collector: "collector-1", receivedAt: "t")
        #expect(!line.contains(where: { $0 < 0x20 }))
        let record = StoredRecord(envelope: envelope, topic: Self.topic, collector: "collector-1", receivedAt: "t")
        #expect(line == (try record.jsonLine()))
    }
}
