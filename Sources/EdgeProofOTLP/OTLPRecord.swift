import EdgeProofCore
import Foundation

/// An accepted envelope as one line of OTLP JSON: an `ExportMetricsServiceRequest` that the OpenTelemetry
/// Collector's `otlpjsonfile` receiver reads, and that carries the proof so that the line can be re-verified
/// from the OTLP file alone (``verify(line:with:)``, `edgeproof verify`).
///
/// - Resource (stable per device): `service.name`, `service.version`, `service.instance.id` of the signed
///   batch, `edgeproof.agent.name`, `edgeproof.key.sha256`, the signed place (`edgeproof.place`,
///   `geo.country.iso_code`, `edgeproof.place.state`, `geo.locality.name`).
/// - One scope per envelope, `edgeproof.envelope`, with the proof: `edgeproof.nonce`, `edgeproof.received_at`,
///   `edgeproof.collector`, `edgeproof.trust_level` (and `edgeproof.attested_at`), the signed position
///   (`geo.location.lat`, `geo.location.lon`, `edgeproof.location.accuracy_m`, `edgeproof.location.source`),
///   and the JWS `edgeproof.jws.protected`, `.payload`, `.signature` verbatim.
/// - Each numeric (or boolean, as 0/1) value of each sample is a data point of the metric of its name, with
///   the sample's `metric_type` as its only attribute and `timeUnixNano` from the sample's own timestamp:
///   a gauge, or for names ending in `_total` a cumulative monotonic sum. Other values (strings, objects)
///   are not numbers: they stay in the signed payload only. Nonces and signatures are never data-point
///   attributes: a new series per envelope would ruin a metrics store.
public enum OTLPRecord {
    public static let scopeName = "edgeproof.envelope"
    public static let scopeVersion = "1"

    public enum Attribute {
        public static let agentName = "edgeproof.agent.name"
        public static let keyHash = "edgeproof.key.sha256"
        public static let place = "edgeproof.place"
        public static let country = "geo.country.iso_code"
        public static let state = "edgeproof.place.state"
        public static let locality = "geo.locality.name"
        public static let nonce = "edgeproof.nonce"
        public static let receivedAt = "edgeproof.received_at"
        public static let collector = "edgeproof.collector"
        public static let trustLevel = "edgeproof.trust_level"
        public static let attestedAt = "edgeproof.attested_at"
        public static let latitude = "geo.location.lat"
        public static let longitude = "geo.location.lon"
        public static let accuracy = "edgeproof.location.accuracy_m"
        public static let source = "edgeproof.location.source"
        public static let protected = "edgeproof.jws.protected"
        public static let payload = "edgeproof.jws.payload"
        public static let signature = "edgeproof.jws.signature"
        public static let metricType = "metric_type"
    }

    /// The line (without its newline) for `envelope`, accepted by `collector` at `receivedAt` (ISO 8601).
    public static func line(
        for envelope: SignedEnvelope, collector: String, receivedAt: String, trust: RecordTrust?
    ) throws -> [UInt8] {
        try line(
            for: envelope, collector: collector, receivedAt: receivedAt, trustLevel: trust?.level.rawValue,
            attestedAt: trust?.attestedAt.map { Timestamp.string(from: Date(timeIntervalSince1970: $0)) })
    }

    /// The line with the collector's own notes as the text they are written as (``verify(line:with:)``
    /// rebuilds a line from what it read).
    static func line(
        for envelope: SignedEnvelope, collector: String, receivedAt: String, trustLevel: String?, attestedAt: String?
    ) throws -> [UInt8] {
        let claims = envelope.claims
        var writer = JSONWriter(capacity: envelope.payload.utf8.count * 2 + 1024)
        do throws(JSONWriter.Refusal) {
            // Keys in the order the tests and `verify` expect; fixed parts written as whole fragments.
            writer.element(#"{"resourceMetrics":[{"resource":{"attributes":["#)
            let service = claims.metrics.service
            string("service.name", service.name, &writer, first: true)
            string("service.version", service.version, &writer)
            string("service.instance.id", service.instanceID, &writer)
            string(Attribute.agentName, claims.agentName, &writer)
            string(Attribute.keyHash, envelope.header.keyID.hex, &writer)
            string(Attribute.place, claims.geographicRegion.description, &writer)
            string(Attribute.country, claims.geographicRegion.region, &writer)
            if let state = claims.geographicRegion.state { string(Attribute.state, state, &writer) }
            if let city = claims.geographicRegion.city { string(Attribute.locality, city, &writer) }
            writer.fragment(#"]},"scopeMetrics":[{"scope":{"name":"edgeproof.envelope","version":"1","attributes":["#)
            string(Attribute.nonce, claims.nonce, &writer, first: true)
            string(Attribute.receivedAt, receivedAt, &writer)
            string(Attribute.collector, collector, &writer)
            if let trustLevel {
                string(Attribute.trustLevel, trustLevel, &writer)
                if let attestedAt { string(Attribute.attestedAt, attestedAt, &writer) }
            }
            if let location = claims.geolocation {
                if let latitude = location.latitude { try double(Attribute.latitude, latitude, &writer) }
                if let longitude = location.longitude { try double(Attribute.longitude, longitude, &writer) }
                if let accuracy = location.accuracyMeters { try double(Attribute.accuracy, accuracy, &writer) }
                if let source = location.source { string(Attribute.source, source.rawValue, &writer) }
            }
            string(Attribute.protected, envelope.protected, &writer)
            string(Attribute.payload, envelope.payload, &writer)
            string(Attribute.signature, envelope.signature, &writer)
            writer.fragment(#"]},"metrics":["#)
            var first = true
            for metric in points(of: claims.metrics) {
                try write(metric, into: &writer, first: first)
                first = false
            }
            writer.fragment("]}]}]}")
        } catch {
            throw OTLPRecordError("a value of the envelope cannot be written as OTLP JSON (not a finite number)")
        }
        return writer.bytes
    }

    /// The data points of a batch, by metric name in order of first appearance.
    static func points(of batch: MetricsBatch) -> [(name: String, points: [(type: String, time: UInt64, value: Double)])] {
        var order: [(name: String, points: [(type: String, time: UInt64, value: Double)])] = []
        // Names seen so far and where they stand in `order`; most batches hold one sample (no lookups at all).
        var index: [String: Int] = [:]
        for sample in batch.samples {
            let time = unixNanoseconds(sample.timestamp) ?? 0
            for (name, value) in sample.values.sorted(by: { $0.key < $1.key }) {
                let number: Double
                switch value {
                case .number(let value): number = value
                case .bool(let value): number = value ? 1 : 0
                default: continue
                }
                let point = (sample.metricType, time, number)
                if batch.samples.count == 1 {
                    order.append((name, [point]))
                } else if let position = index[name] {
                    order[position].points.append(point)
                } else {
                    index[name] = order.count
                    order.append((name, [point]))
                }
            }
        }
        return order
    }

    private static func write(
        _ metric: (name: String, points: [(type: String, time: UInt64, value: Double)]), into writer: inout JSONWriter,
        first: Bool
    ) throws(JSONWriter.Refusal) {
        let isSum = metric.name.hasSuffix("_total")
        writer.fragment(first ? #"{"name":"# : #",{"name":"#)
        writer.stringFragment(metric.name)
        writer.fragment(isSum ? #","sum":{"aggregationTemporality":2,"dataPoints":["# : #","gauge":{"dataPoints":["#)
        for (index, point) in metric.points.enumerated() {
            writer.fragment(index == 0 ? #"{"asDouble":"# : #",{"asDouble":"#)
            try writer.numberFragment(point.value)
            writer.fragment(#","attributes":[{"key":"metric_type","value":{"stringValue":"#)
            writer.stringFragment(point.type)
            writer.fragment(#"}}],"timeUnixNano":"#)
            writer.unsignedStringFragment(point.time)
            writer.fragment("}")
        }
        writer.fragment(isSum ? #"],"isMonotonic":true}}"# : "]}}")
    }

    /// A string attribute `{"key":…,"value":{"stringValue":…}}`; `first` in its array or after it.
    private static func string(_ key: String, _ value: String, _ writer: inout JSONWriter, first: Bool = false) {
        writer.fragment(first ? #"{"key":"# : #",{"key":"#)
        writer.stringFragment(key)
        writer.fragment(#","value":{"stringValue":"#)
        writer.stringFragment(value)
        writer.fragment("}}")
    }

    private static func double(_ key: String, _ value: Double, _ writer: inout JSONWriter) throws(JSONWriter.Refusal) {
        writer.fragment(#",{"key":"#)
        writer.stringFragment(key)
        writer.fragment(#","value":{"doubleValue":"#)
        try writer.numberFragment(value)
        writer.fragment("}}")
    }

    /// Nanoseconds since 1970 of an ISO 8601 time, its fraction taken digit by digit (a `Date` keeps only
    /// about a tenth of a microsecond).
    static func unixNanoseconds(_ text: String) -> UInt64? {
        guard let date = Timestamp.date(from: text) else { return nil }
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds >= 0, seconds < 1.8e10 else { return nil }
        var nanoseconds: UInt64 = 0
        let utf8 = text.utf8
        if let dot = utf8.firstIndex(of: UInt8(ascii: ".")) {
            var scale: UInt64 = 100_000_000
            for byte in utf8[utf8.index(after: dot)...] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), scale > 0 else { break }
                nanoseconds += UInt64(byte - UInt8(ascii: "0")) * scale
                scale /= 10
            }
        }
        return UInt64(seconds) * 1_000_000_000 + nanoseconds
    }
}

public struct OTLPRecordError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
