import Foundation

/// The record's line, written by ``JSONWriter``: the same compact, key-sorted JSON that `JSONEncoder`
/// with `.sortedKeys` and `.withoutEscapingSlashes` makes, without its generic machinery, which cost
/// the collector more than parsing and verifying the envelope together.
extension StoredRecord {
    public func jsonLine() throws -> [UInt8] {
        let fields = fields
        var writer = JSONWriter(capacity: fields.approximateLength)
        do {
            try Self.write(fields, signedMetricsJSON: nil, into: &writer)
            return writer.bytes
        } catch {
            // What the writer refuses, JSONEncoder decides (and names the problem).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Array(try encoder.encode(self))
        }
    }

    /// The line of `envelope`'s record, as the collector writes it: its `metrics` are the bytes the
    /// agent signed, unless a control byte in them (a newline of pretty-printed JSON) would split the
    /// line. For our agents' compact, key-sorted claims that is exactly what re-encoding would give,
    /// without its cost. Written straight from the envelope, without copying it into a record first.
    public static func jsonLine(
        for envelope: SignedEnvelope, topic: String, collector: String, receivedAt: String
    ) throws -> [UInt8] {
        let fields = Fields(
            receivedAt: receivedAt, collector: collector, topic: topic, agentName: envelope.claims.agentName,
            kid: envelope.header.keyID, geographicRegion: envelope.claims.geographicRegion,
            geolocation: envelope.claims.geolocation, nonce: envelope.claims.nonce, metrics: envelope.claims.metrics,
            protected: envelope.protected, payload: envelope.payload, signature: envelope.signature)
        if let metrics = envelope.signedMetricsJSON, !metrics.contains(where: { $0 < 0x20 }) {
            var writer = JSONWriter(capacity: fields.approximateLength)
            do {
                try write(fields, signedMetricsJSON: metrics, into: &writer)
                return writer.bytes
            } catch {}
        }
        return try StoredRecord(envelope: envelope, topic: topic, collector: collector, receivedAt: receivedAt).jsonLine()
    }

    /// What a record line holds, borrowed from a record or an envelope.
    private struct Fields {
        let receivedAt: String, collector: String, topic: String, agentName: String, kid: PublicKeyHash
        let geographicRegion: GeographicRegion, geolocation: Geolocation?, nonce: String, metrics: MetricsBatch
        let protected: String, payload: String, signature: String

        var approximateLength: Int { protected.utf8.count + payload.utf8.count + signature.utf8.count + 512 }
    }

    private var fields: Fields {
        Fields(
            receivedAt: receivedAt, collector: collector, topic: topic, agentName: agentName, kid: kid,
            geographicRegion: geographicRegion, geolocation: geolocation, nonce: nonce, metrics: metrics,
            protected: protected, payload: payload, signature: signature)
    }

    private static func write(
        _ record: Fields, signedMetricsJSON: ArraySlice<UInt8>?, into writer: inout JSONWriter
    ) throws(JSONWriter.Refusal) {
        writer.openObject()
        writer.key("agent_name")
        writer.string(record.agentName)
        writer.key("collector")
        writer.string(record.collector)
        writer.key("geographic_region")
        writer.write(record.geographicRegion)
        if let geolocation = record.geolocation {
            writer.key("geolocation")
            try writer.write(geolocation)
        }
        writer.key("kid")
        record.kid.withUnsafeBytes { writer.hexString($0) }
        writer.key("metrics")
        if let signedMetricsJSON {
            writer.rawValue(signedMetricsJSON)
        } else {
            try writer.write(record.metrics)
        }
        writer.key("nonce")
        writer.string(record.nonce)
        writer.key("payload")
        writer.string(record.payload)
        writer.key("protected")
        writer.string(record.protected)
        writer.key("received_at")
        writer.string(record.receivedAt)
        writer.key("signature")
        writer.string(record.signature)
        writer.key("topic")
        writer.string(record.topic)
        writer.closeObject()
    }
}
