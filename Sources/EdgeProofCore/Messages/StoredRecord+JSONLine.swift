import Foundation

/// The record's line, written by ``JSONWriter`` by hand: the same compact, key-sorted JSON that
/// ``WireJSON`` makes, and it carries the signed `metrics` bytes as they are rather than re-encoding
/// them (the collector writes one per envelope: `edgeproof bench verify`).
extension StoredRecord {
    public func jsonLine() throws -> [UInt8] {
        try jsonLine(signedMetricsJSON: nil)
    }

    /// The line of `envelope`'s record, as the collector writes it: its `metrics` are the bytes the
    /// agent signed, unless a control byte in them (a newline of pretty-printed JSON) would split the
    /// line. For our agents' compact, key-sorted claims that is exactly what re-encoding would give,
    /// without its cost.
    public static func jsonLine(
        for envelope: SignedEnvelope, topic: String, collector: String, receivedAt: String, trust: RecordTrust? = nil
    ) throws -> [UInt8] {
        let record = StoredRecord(
            envelope: envelope, topic: topic, collector: collector, receivedAt: receivedAt, trust: trust)
        let signedMetrics = envelope.signedMetricsJSON.flatMap { $0.contains(where: { $0 < 0x20 }) ? nil : $0 }
        return try record.jsonLine(signedMetricsJSON: signedMetrics)
    }

    private func jsonLine(signedMetricsJSON: ArraySlice<UInt8>?) throws -> [UInt8] {
        var writer = JSONWriter(capacity: protected.utf8.count + payload.utf8.count + signature.utf8.count + 512)
        do {
            try write(signedMetricsJSON: signedMetricsJSON, into: &writer)
            return writer.bytes
        } catch {
            // What the writer refuses, WireJSON decides (and names the problem).
            return Array(try WireJSON.encode(self))
        }
    }

    private func write(signedMetricsJSON: ArraySlice<UInt8>?, into writer: inout JSONWriter) throws(JSONWriter.Refusal) {
        writer.openObject()
        writer.key("agent_name")
        writer.string(agentName)
        if let attestedAt {
            writer.key("attested_at")
            writer.string(attestedAt)
        }
        writer.key("collector")
        writer.string(collector)
        writer.key("geographic_region")
        writer.write(geographicRegion)
        if let geolocation {
            writer.key("geolocation")
            try writer.write(geolocation)
        }
        writer.key("kid")
        kid.withUnsafeBytes { writer.hexString($0) }
        writer.key("metrics")
        if let signedMetricsJSON {
            writer.rawValue(signedMetricsJSON)
        } else {
            try writer.write(metrics)
        }
        writer.key("nonce")
        writer.string(nonce)
        writer.key("payload")
        writer.string(payload)
        writer.key("protected")
        writer.string(protected)
        writer.key("received_at")
        writer.string(receivedAt)
        writer.key("signature")
        writer.string(signature)
        writer.key("topic")
        writer.string(topic)
        if let trustLevel {
            writer.key("trust_level")
            writer.string(trustLevel.rawValue)
        }
        writer.closeObject()
    }
}
