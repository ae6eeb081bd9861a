/// The record's line, written directly: the same compact, key-sorted JSON that `JSONEncoder` with
/// `.sortedKeys` and `.withoutEscapingSlashes` makes, without its generic machinery, which cost more
/// than parsing and verifying the envelope together.
extension StoredRecord {
    public func jsonLine() -> [UInt8] {
        var writer = JSONLineWriter()
        writer.bytes.reserveCapacity(protected.utf8.count + payload.utf8.count + signature.utf8.count + 512)
        writer.object { object in
            object.member("agent_name") { $0.string(agentName) }
            object.member("collector") { $0.string(collector) }
            object.member("geographic_region") { $0.region(geographicRegion) }
            if let geolocation { object.member("geolocation") { $0.geolocation(geolocation) } }
            object.member("kid") { $0.string(kid.hex) }
            object.member("metrics") { $0.metrics(metrics) }
            object.member("nonce") { $0.string(nonce) }
            object.member("payload") { $0.string(payload) }
            object.member("protected") { $0.string(protected) }
            object.member("received_at") { $0.string(receivedAt) }
            object.member("signature") { $0.string(signature) }
            object.member("topic") { $0.string(topic) }
        }
        return writer.bytes
    }
}

/// Appends compact JSON to a byte buffer. Members must be written in sorted key order.
struct JSONLineWriter {
    var bytes: [UInt8] = []

    struct Object {
        fileprivate var writer: JSONLineWriter
        fileprivate var first = true

        mutating func member(_ key: String, _ value: (inout JSONLineWriter) -> Void) {
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.string(key)
            writer.bytes.append(UInt8(ascii: ":"))
            value(&writer)
        }
    }

    mutating func object(_ body: (inout Object) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var object = Object(writer: self)
        bytes = []
        body(&object)
        self = object.writer
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        defer { bytes.append(UInt8(ascii: "\"")) }
        var text = value
        let plain = text.withUTF8 { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                return false
            }
            bytes.append(contentsOf: utf8)
            return true
        }
        if plain { return }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
    }

    /// As JSONEncoder writes a Double: its shortest description, without a trailing ".0".
    mutating func number(_ value: Double) {
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): self.number(number)
        case .string(let text): string(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members): dictionary(members)
        }
    }

    mutating func dictionary(_ members: [String: JSONValue]) {
        object { object in
            for key in members.keys.sorted() {
                guard let member = members[key] else { continue }
                object.member(key) { $0.value(member) }
            }
        }
    }

    mutating func region(_ region: GeographicRegion) {
        object { object in
            if let city = region.city { object.member("city") { $0.string(city) } }
            object.member("region") { $0.string(region.region) }
            if let state = region.state { object.member("state") { $0.string(state) } }
        }
    }

    mutating func geolocation(_ location: Geolocation) {
        object { object in
            if let accuracy = location.accuracyMeters { object.member("accuracy_m") { $0.number(accuracy) } }
            object.member("latitude") { $0.number(location.latitude) }
            object.member("longitude") { $0.number(location.longitude) }
            if let quality = location.quality { object.member("quality") { $0.string(quality) } }
            if let type = location.type { object.member("type") { $0.string(type) } }
        }
    }

    mutating func metrics(_ batch: MetricsBatch) {
        object { object in
            object.member("samples") { writer in
                writer.bytes.append(UInt8(ascii: "["))
                for (index, sample) in batch.samples.enumerated() {
                    if index > 0 { writer.bytes.append(UInt8(ascii: ",")) }
                    writer.object { object in
                        object.member("metric_type") { $0.string(sample.metricType) }
                        object.member("timestamp") { $0.string(sample.timestamp) }
                        object.member("values") { $0.dictionary(sample.values) }
                    }
                }
                writer.bytes.append(UInt8(ascii: "]"))
            }
            object.member("service") { writer in
                writer.object { object in
                    object.member("instance_id") { $0.string(batch.service.instanceID) }
                    object.member("name") { $0.string(batch.service.name) }
                    object.member("version") { $0.string(batch.service.version) }
                }
            }
        }
    }
}
