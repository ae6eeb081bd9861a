/// The claims read straight from their JSON bytes with ``JSONReader``: the same values their
/// `Decodable` conformances give, or ``JSONReader/Unsupported`` for anything else (a missing field,
/// a wrong type, a duplicate key, …), which sends the envelope to `JSONDecoder` for its answer.
extension EnvelopeClaims {
    /// Also gives where the `metrics` value's bytes are, so that a record can carry them as signed.
    init(reading reader: inout JSONReader, metricsRange: inout Range<Int>?) throws(JSONReader.Unsupported) {
        var version: Int?
        var agentName: String?
        var publicKeyHash: PublicKeyHash?
        var nonce: String?
        var timestamp: String?
        var geographicRegion: GeographicRegion?
        var geolocation: Geolocation?
        var metrics: MetricsBatch?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "v" {
                try members.first(0)
                version = try reader.readInt()
            } else if key == "agent_name" {
                try members.first(1)
                agentName = try reader.readString()
            } else if key == "tpm_public_key_hash" {
                try members.first(2)
                publicKeyHash = try PublicKeyHash(reading: &reader)
            } else if key == "nonce" {
                try members.first(3)
                nonce = try reader.readString()
            } else if key == "timestamp" {
                try members.first(4)
                timestamp = try reader.readString()
            } else if key == "geographic_region" {
                try members.first(5)
                geographicRegion = try GeographicRegion(reading: &reader)
            } else if key == "geolocation" {
                try members.first(6)
                if try !reader.readNullIfPresent() { geolocation = try Geolocation(reading: &reader) }
            } else if key == "metrics" {
                try members.first(7)
                (metrics, metricsRange) = try reader.readKeepingRange { reader throws(JSONReader.Unsupported) in
                    try MetricsBatch(reading: &reader)
                }
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let version, let agentName, let publicKeyHash, let nonce, let timestamp, let geographicRegion,
            let metrics
        else { throw JSONReader.Unsupported() }
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

extension PublicKeyHash {
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        guard let hash = PublicKeyHash(hex: try reader.readString()) else { throw JSONReader.Unsupported() }
        self = hash
    }
}

extension GeographicRegion {
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var region: String?
        var state: String?
        var city: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "region" {
                try members.first(0)
                region = try reader.readString()
            } else if key == "state" {
                try members.first(1)
                if try !reader.readNullIfPresent() { state = try reader.readString() }
            } else if key == "city" {
                try members.first(2)
                if try !reader.readNullIfPresent() { city = try reader.readString() }
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let region else { throw JSONReader.Unsupported() }
        self.init(region: region, state: state, city: city)
    }
}

extension Geolocation {
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var latitude: Double?
        var longitude: Double?
        var accuracyMeters: Double?
        var quality: String?
        var type: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "latitude" {
                try members.first(0)
                latitude = try reader.readDouble()
            } else if key == "longitude" {
                try members.first(1)
                longitude = try reader.readDouble()
            } else if key == "accuracy_m" {
                try members.first(2)
                if try !reader.readNullIfPresent() { accuracyMeters = try reader.readDouble() }
            } else if key == "quality" {
                try members.first(3)
                if try !reader.readNullIfPresent() { quality = try reader.readString() }
            } else if key == "type" {
                try members.first(4)
                if try !reader.readNullIfPresent() { type = try reader.readString() }
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let latitude, let longitude else { throw JSONReader.Unsupported() }
        self.init(
            latitude: latitude, longitude: longitude, accuracyMeters: accuracyMeters, quality: quality, type: type)
    }
}

extension MetricsBatch {
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var service: ServiceInfo?
        var samples: [MetricSample]?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "service" {
                try members.first(0)
                service = try ServiceInfo(reading: &reader)
            } else if key == "samples" {
                try members.first(1)
                var list: [MetricSample] = []
                try reader.readArray { reader throws(JSONReader.Unsupported) in
                    list.append(try MetricSample(reading: &reader))
                }
                samples = list
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let service, let samples else { throw JSONReader.Unsupported() }
        self.init(service: service, samples: samples)
    }
}

extension ServiceInfo {
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var name: String?
        var version: String?
        var instanceID: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "name" {
                try members.first(0)
                name = try reader.readString()
            } else if key == "version" {
                try members.first(1)
                version = try reader.readString()
            } else if key == "instance_id" {
                try members.first(2)
                instanceID = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let name, let version, let instanceID else { throw JSONReader.Unsupported() }
        self.init(name: name, version: version, instanceID: instanceID)
    }
}

extension MetricSample {
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var timestamp: String?
        var metricType: String?
        var values: [String: JSONValue]?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "timestamp" {
                try members.first(0)
                timestamp = try reader.readString()
            } else if key == "metric_type" {
                try members.first(1)
                metricType = try reader.readString()
            } else if key == "values" {
                try members.first(2)
                guard case .object(let object) = try reader.readValue() else { throw JSONReader.Unsupported() }
                values = object
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let timestamp, let metricType, let values else { throw JSONReader.Unsupported() }
        self.init(timestamp: timestamp, metricType: metricType, values: values)
    }
}
