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
            writer.openObject()
            writer.key("resourceMetrics")
            writer.openArray()
            writer.openObject()
            writer.key("resource")
            writer.openObject()
            writer.key("attributes")
            writer.openArray()
            let service = claims.metrics.service
            string("service.name", service.name, &writer)
            string("service.version", service.version, &writer)
            string("service.instance.id", service.instanceID, &writer)
            string(Attribute.agentName, claims.agentName, &writer)
            string(Attribute.keyHash, envelope.header.keyID.hex, &writer)
            string(Attribute.place, claims.geographicRegion.description, &writer)
            string(Attribute.country, claims.geographicRegion.region, &writer)
            if let state = claims.geographicRegion.state { string(Attribute.state, state, &writer) }
            if let city = claims.geographicRegion.city { string(Attribute.locality, city, &writer) }
            writer.closeArray()
            writer.closeObject()
            writer.key("scopeMetrics")
            writer.openArray()
            writer.openObject()
            writer.key("scope")
            writer.openObject()
            writer.key("name")
            writer.string(scopeName)
            writer.key("version")
            writer.string(scopeVersion)
            writer.key("attributes")
            writer.openArray()
            string(Attribute.nonce, claims.nonce, &writer)
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
            writer.closeArray()
            writer.closeObject()
            writer.key("metrics")
            writer.openArray()
            for metric in points(of: claims.metrics) {
                try write(metric, into: &writer)
            }
            writer.closeArray()
            writer.closeObject()
            writer.closeArray()
            writer.closeObject()
            writer.closeArray()
            writer.closeObject()
        } catch {
            throw OTLPRecordError("a value of the envelope cannot be written as OTLP JSON (not a finite number)")
        }
        return writer.bytes
    }

    /// The data points of a batch, by metric name in order of first appearance.
    static func points(of batch: MetricsBatch) -> [(name: String, points: [(type: String, time: UInt64, value: Double)])] {
        var order: [String] = []
        var byName: [String: [(type: String, time: UInt64, value: Double)]] = [:]
        for sample in batch.samples {
            let time = unixNanoseconds(sample.timestamp) ?? 0
            for (name, value) in sample.values.sorted(by: { $0.key < $1.key }) {
                let number: Double
                switch value {
                case .number(let value): number = value
                case .bool(let value): number = value ? 1 : 0
                default: continue
                }
                if byName[name] == nil { order.append(name) }
                byName[name, default: []].append((sample.metricType, time, number))
            }
        }
        return order.map { ($0, byName[$0] ?? []) }
    }

    private static func write(
        _ metric: (name: String, points: [(type: String, time: UInt64, value: Double)]), into writer: inout JSONWriter
    ) throws(JSONWriter.Refusal) {
        writer.openObject()
        writer.key("name")
        writer.string(metric.name)
        let isSum = metric.name.hasSuffix("_total")
        writer.key(isSum ? "sum" : "gauge")
        writer.openObject()
        if isSum {
            writer.key("aggregationTemporality")
            writer.integer(Sum.cumulative)
        }
        writer.key("dataPoints")
        writer.openArray()
        for point in metric.points {
            writer.openObject()
            writer.key("asDouble")
            try writer.number(point.value)
            writer.key("attributes")
            writer.openArray()
            string(Attribute.metricType, point.type, &writer)
            writer.closeArray()
            writer.key("timeUnixNano")
            writer.string(String(point.time))
            writer.closeObject()
        }
        writer.closeArray()
        if isSum {
            writer.key("isMonotonic")
            writer.bool(true)
        }
        writer.closeObject()
        writer.closeObject()
    }

    private static func string(_ key: String, _ value: String, _ writer: inout JSONWriter) {
        writer.openObject()
        writer.key("key")
        writer.string(key)
        writer.key("value")
        writer.openObject()
        writer.key("stringValue")
        writer.string(value)
        writer.closeObject()
        writer.closeObject()
    }

    private static func double(_ key: String, _ value: Double, _ writer: inout JSONWriter) throws(JSONWriter.Refusal) {
        writer.openObject()
        writer.key("key")
        writer.string(key)
        writer.key("value")
        writer.openObject()
        writer.key("doubleValue")
        try writer.number(value)
        writer.closeObject()
        writer.closeObject()
    }

    /// Nanoseconds since 1970 of an ISO 8601 time, its fraction taken digit by digit (a `Date` keeps only
    /// about a tenth of a microsecond).
    static func unixNanoseconds(_ text: String) -> UInt64? {
        guard let date = Timestamp.date(from: text) else { return nil }
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds >= 0, seconds < 1.8e10 else { return nil }
        var nanoseconds: UInt64 = 0
        if let dot = text.firstIndex(of: ".") {
            var scale: UInt64 = 100_000_000
            for character in text[text.index(after: dot)...] {
                guard let digit = character.wholeNumberValue, character.isASCII else { break }
                nanoseconds += UInt64(digit) * scale
                scale /= 10
                if scale == 0 { break }
            }
        }
        return UInt64(seconds) * 1_000_000_000 + nanoseconds
    }
}

public struct OTLPRecordError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
