import Foundation

/// The record's line, written by ``JSONWriter``: the same compact, key-sorted JSON that `JSONEncoder`
/// with `.sortedKeys` and `.withoutEscapingSlashes` makes, without its generic machinery, which cost
/// the collector more than parsing and verifying the envelope together.
extension StoredRecord {
    public func jsonLine() throws -> [UInt8] {
        var writer = JSONWriter(capacity: protected.utf8.count + payload.utf8.count + signature.utf8.count + 512)
        do {
            try Self.write(self, signedMetricsJSON: nil, into: &writer)
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
    /// without its cost.
    public static func jsonLine(
        for envelope: SignedEnvelope, topic: String, collector: String, receivedAt: String
    ) throws -> [UInt8] {
        let record = StoredRecord(envelope: envelope, topic: topic, collector: collector, receivedAt: receivedAt)
        guard let metrics = envelope.signedMetricsJSON, !metrics.contains(where: { $0 < 0x20 }) else {
            return try record.jsonLine()
        }
        var writer = JSONWriter(
            capacity: record.protected.utf8.count + record.payload.utf8.count + record.signature.utf8.count + 512)
        do {
            try write(record, signedMetricsJSON: metrics, into: &writer)
            return writer.bytes
        } catch {
            return try record.jsonLine()
        }
    }

    private static func write(
        _ record: StoredRecord, signedMetricsJSON: ArraySlice<UInt8>?, into writer: inout JSONWriter
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
