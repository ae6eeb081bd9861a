import Foundation

/// The record's line, written by ``JSONWriter``: the same compact, key-sorted JSON that `JSONEncoder`
/// with `.sortedKeys` and `.withoutEscapingSlashes` makes, without its generic machinery, which cost
/// the collector more than parsing and verifying the envelope together.
extension StoredRecord {
    public func jsonLine() throws -> [UInt8] {
        var writer = JSONWriter(capacity: protected.utf8.count + payload.utf8.count + signature.utf8.count + 512)
        do {
            try write(into: &writer)
            return writer.bytes
        } catch {
            // What the writer refuses, JSONEncoder decides (and names the problem).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Array(try encoder.encode(self))
        }
    }

    private func write(into writer: inout JSONWriter) throws(JSONWriter.Refusal) {
        writer.openObject()
        writer.key("agent_name")
        writer.string(agentName)
        writer.key("collector")
        writer.string(collector)
        writer.key("geographic_region")
        writer.write(geographicRegion)
        if let geolocation {
            writer.key("geolocation")
            try writer.write(geolocation)
        }
        writer.key("kid")
        writer.hexString(kid.bytes)
        writer.key("metrics")
        try writer.write(metrics)
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
        writer.closeObject()
    }
}
