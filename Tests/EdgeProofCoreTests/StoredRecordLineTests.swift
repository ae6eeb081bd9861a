import EdgeProofCore
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
}
