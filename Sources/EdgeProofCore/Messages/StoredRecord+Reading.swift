extension StoredRecord {
    /// Reads a record line with the strict ``JSONReader``, as `edgeproof verify` does: a line with a
    /// duplicate name, a non-canonical kid or anything else a strict reader refuses is not a record.
    public init(strictJSON line: some Collection<UInt8>) throws(JSONRefusal) {
        self = try JSONReader.read(line) { reader throws(JSONRefusal) in try StoredRecord(reading: &reader) }
    }

    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var receivedAt: String?
        var collector: String?
        var topic: String?
        var agentName: String?
        var kid: PublicKeyHash?
        var geographicRegion: GeographicRegion?
        var geolocation: Geolocation?
        var nonce: String?
        var metrics: MetricsBatch?
        var protected: String?
        var payload: String?
        var signature: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "received_at" {
                try members.first(0, key)
                receivedAt = try reader.readString()
            } else if key == "collector" {
                try members.first(1, key)
                collector = try reader.readString()
            } else if key == "topic" {
                try members.first(2, key)
                topic = try reader.readString()
            } else if key == "agent_name" {
                try members.first(3, key)
                agentName = try reader.readString()
            } else if key == "kid" {
                try members.first(4, key)
                kid = try PublicKeyHash(reading: &reader)
            } else if key == "geographic_region" {
                try members.first(5, key)
                geographicRegion = try GeographicRegion(reading: &reader)
            } else if key == "geolocation" {
                try members.first(6, key)
                if try !reader.readNullIfPresent() { geolocation = try Geolocation(reading: &reader) }
            } else if key == "nonce" {
                try members.first(7, key)
                nonce = try reader.readString()
            } else if key == "metrics" {
                try members.first(8, key)
                metrics = try MetricsBatch(reading: &reader)
            } else if key == "protected" {
                try members.first(9, key)
                protected = try reader.readString()
            } else if key == "payload" {
                try members.first(10, key)
                payload = try reader.readString()
            } else if key == "signature" {
                try members.first(11, key)
                signature = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let receivedAt else { throw JSONRefusal.missing("received_at") }
        guard let collector else { throw JSONRefusal.missing("collector") }
        guard let topic else { throw JSONRefusal.missing("topic") }
        guard let agentName else { throw JSONRefusal.missing("agent_name") }
        guard let kid else { throw JSONRefusal.missing("kid") }
        guard let geographicRegion else { throw JSONRefusal.missing("geographic_region") }
        guard let nonce else { throw JSONRefusal.missing("nonce") }
        guard let metrics else { throw JSONRefusal.missing("metrics") }
        guard let protected else { throw JSONRefusal.missing("protected") }
        guard let payload else { throw JSONRefusal.missing("payload") }
        guard let signature else { throw JSONRefusal.missing("signature") }
        self.init(
            receivedAt: receivedAt, collector: collector, topic: topic, agentName: agentName, kid: kid,
            geographicRegion: geographicRegion, geolocation: geolocation, nonce: nonce, metrics: metrics,
            protected: protected, payload: payload, signature: signature)
    }
}
