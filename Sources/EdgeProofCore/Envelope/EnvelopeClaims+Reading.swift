/// The claims read straight from their JSON bytes with the strict ``JSONReader``, the only reader of
/// signed claims: every object refuses a duplicate name (after unescaping), a missing required
/// member, a value of the wrong type; members the contract does not name are read strictly and ignored.
extension EnvelopeClaims {
    /// Also gives where the `metrics` value's bytes are, so that a record can carry them as signed.
    init(reading reader: inout JSONReader, metricsRange: inout Range<Int>?) throws(JSONRefusal) {
        var version: Int?
        var agentName: String?
        var publicKeyHash: PublicKeyHash?
        var nonce: String?
        var timestamp: String?
        var geographicRegion: GeographicRegion?
        var geolocation: Geolocation?
        var metrics: MetricsBatch?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "v" {
                try members.first(0, key)
                version = try reader.readInt()
            } else if key == "agent_name" {
                try members.first(1, key)
                agentName = try reader.readString()
            } else if key == "tpm_public_key_hash" {
                try members.first(2, key)
                publicKeyHash = try PublicKeyHash(reading: &reader)
            } else if key == "nonce" {
                try members.first(3, key)
                nonce = try reader.readString()
            } else if key == "timestamp" {
                try members.first(4, key)
                timestamp = try reader.readString()
            } else if key == "geographic_region" {
                try members.first(5, key)
                geographicRegion = try GeographicRegion(reading: &reader)
            } else if key == "geolocation" {
                try members.first(6, key)
                if try !reader.readNullIfPresent() { geolocation = try Geolocation(reading: &reader) }
            } else if key == "metrics" {
                try members.first(7, key)
                (metrics, metricsRange) = try reader.readKeepingRange { reader throws(JSONRefusal) in
                    try MetricsBatch(reading: &reader)
                }
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let version else { throw JSONRefusal.missing("v") }
        guard let agentName else { throw JSONRefusal.missing("agent_name") }
        guard let publicKeyHash else { throw JSONRefusal.missing("tpm_public_key_hash") }
        guard let nonce else { throw JSONRefusal.missing("nonce") }
        guard let timestamp else { throw JSONRefusal.missing("timestamp") }
        guard let geographicRegion else { throw JSONRefusal.missing("geographic_region") }
        guard let metrics else { throw JSONRefusal.missing("metrics") }
        self.version = version
        self.agentName = agentName
        self.publicKeyHash = publicKeyHash
        self.nonce = nonce
        self.timestamp = timestamp
        self.geographicRegion = geographicRegion
        self.geolocation = geolocation
        self.metrics = metrics
    }
}

extension PublicKeyHash: JSONReadable {
    /// Only the canonical form, 64 lowercase hex digits: any other spelling of the same hash is refused,
    /// never normalised, so that every reader and every stored record sees the same bytes.
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        guard let hash = PublicKeyHash(canonicalHex: try reader.readString()) else {
            throw JSONRefusal("a public key hash that is not 64 lowercase hex digits")
        }
        self = hash
    }
}

extension GeographicRegion: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var region: String?
        var state: String?
        var city: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "region" {
                try members.first(0, key)
                region = try reader.readString()
            } else if key == "state" {
                try members.first(1, key)
                if try !reader.readNullIfPresent() { state = try reader.readString() }
            } else if key == "city" {
                try members.first(2, key)
                if try !reader.readNullIfPresent() { city = try reader.readString() }
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let region else { throw JSONRefusal.missing("region") }
        self.init(region: region, state: state, city: city)
    }
}

extension Geolocation: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var latitude: Double?
        var longitude: Double?
        var altitude: Double?
        var accuracyMeters: Double?
        var source: LocationSource?
        var fixMode: FixMode?
        var fixTime: String?
        var sensor: LocationSensor?
        var quality: String?
        var type: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "latitude" {
                try members.first(0, key)
                if try !reader.readNullIfPresent() { latitude = try reader.readDouble() }
            } else if key == "longitude" {
                try members.first(1, key)
                if try !reader.readNullIfPresent() { longitude = try reader.readDouble() }
            } else if key == "accuracy_m" {
                try members.first(2, key)
                if try !reader.readNullIfPresent() { accuracyMeters = try reader.readDouble() }
            } else if key == "quality" {
                try members.first(3, key)
                if try !reader.readNullIfPresent() { quality = try reader.readString() }
            } else if key == "type" {
                try members.first(4, key)
                if try !reader.readNullIfPresent() { type = try reader.readString() }
            } else if key == "altitude" {
                try members.first(5, key)
                if try !reader.readNullIfPresent() { altitude = try reader.readDouble() }
            } else if key == "source" {
                try members.first(6, key)
                if try !reader.readNullIfPresent() {
                    let text = try reader.readString()
                    guard let value = LocationSource(rawValue: text) else {
                        throw JSONRefusal("expected one of gnss, mobile-network, wifi, ip, configured")
                    }
                    source = value
                }
            } else if key == "fix_mode" {
                try members.first(7, key)
                if try !reader.readNullIfPresent() {
                    let text = try reader.readString()
                    guard let value = FixMode(rawValue: text) else {
                        throw JSONRefusal("expected one of none, 2d, 3d")
                    }
                    fixMode = value
                }
            } else if key == "fix_time" {
                try members.first(8, key)
                if try !reader.readNullIfPresent() { fixTime = try reader.readString() }
            } else if key == "sensor" {
                try members.first(9, key)
                if try !reader.readNullIfPresent() { sensor = try LocationSensor(reading: &reader) }
            } else {
                try members.skip(key, in: &reader)
            }
        }
        self.init(
            latitude: latitude, longitude: longitude, altitude: altitude, accuracyMeters: accuracyMeters,
            source: source, fixMode: fixMode, fixTime: fixTime, sensor: sensor, quality: quality, type: type)
    }
}

extension LocationSensor: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var driver: String?
        var model: String?
        var firmware: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "driver" {
                try members.first(0, key)
                driver = try reader.readString()
            } else if key == "model" {
                try members.first(1, key)
                if try !reader.readNullIfPresent() { model = try reader.readString() }
            } else if key == "firmware" {
                try members.first(2, key)
                if try !reader.readNullIfPresent() { firmware = try reader.readString() }
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let driver else { throw JSONRefusal.missing("driver") }
        self.init(driver: driver, model: model, firmware: firmware)
    }
}

extension MetricsBatch: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var service: ServiceInfo?
        var samples: [MetricSample]?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "service" {
                try members.first(0, key)
                service = try ServiceInfo(reading: &reader)
            } else if key == "samples" {
                try members.first(1, key)
                var list: [MetricSample] = []
                try reader.readArray { reader throws(JSONRefusal) in
                    list.append(try MetricSample(reading: &reader))
                }
                samples = list
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let service else { throw JSONRefusal.missing("service") }
        guard let samples else { throw JSONRefusal.missing("samples") }
        self.init(service: service, samples: samples)
    }
}

extension ServiceInfo: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var name: String?
        var version: String?
        var instanceID: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "name" {
                try members.first(0, key)
                name = try reader.readString()
            } else if key == "version" {
                try members.first(1, key)
                version = try reader.readString()
            } else if key == "instance_id" {
                try members.first(2, key)
                instanceID = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let name else { throw JSONRefusal.missing("name") }
        guard let version else { throw JSONRefusal.missing("version") }
        guard let instanceID else { throw JSONRefusal.missing("instance_id") }
        self.init(name: name, version: version, instanceID: instanceID)
    }
}

extension MetricSample: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var timestamp: String?
        var metricType: String?
        var values: [String: JSONValue]?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "timestamp" {
                try members.first(0, key)
                timestamp = try reader.readString()
            } else if key == "metric_type" {
                try members.first(1, key)
                metricType = try reader.readString()
            } else if key == "values" {
                try members.first(2, key)
                values = try reader.readObjectValue()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let timestamp else { throw JSONRefusal.missing("timestamp") }
        guard let metricType else { throw JSONRefusal.missing("metric_type") }
        guard let values else { throw JSONRefusal.missing("values") }
        self.init(timestamp: timestamp, metricType: metricType, values: values)
    }
}
