/// The protected header and the claims as ``SignedEnvelope/sign(_:with:)`` signs them: the same bytes as
/// their `Codable` conformances give through ``WireJSON`` (and `JSONEncoder` with `[.sortedKeys,
/// .withoutEscapingSlashes]`), members in UTF-8 key order, absent optionals left out. A member added to one of these types must be
/// added here too; `ClaimsEncodingTests` compares every type with all its optionals set against `JSONEncoder`.
extension JSONWriter {
    mutating func write(_ header: JWSHeader) {
        openObject()
        key("alg")
        string(header.algorithm.rawValue)
        key("kid")
        header.keyID.withUnsafeBytes { hexString($0) }
        key("typ")
        string(header.type)
        closeObject()
    }

    mutating func write(_ claims: EnvelopeClaims) throws(Refusal) {
        openObject()
        key("agent_name")
        string(claims.agentName)
        key("geographic_region")
        write(claims.geographicRegion)
        if let geolocation = claims.geolocation {
            key("geolocation")
            try write(geolocation)
        }
        key("metrics")
        try write(claims.metrics)
        key("nonce")
        string(claims.nonce)
        key("timestamp")
        string(claims.timestamp)
        key("tpm_public_key_hash")
        claims.publicKeyHash.withUnsafeBytes { hexString($0) }
        key("v")
        integer(claims.version)
        closeObject()
    }

    mutating func write(_ region: GeographicRegion) {
        openObject()
        if let city = region.city {
            key("city")
            string(city)
        }
        key("region")
        string(region.region)
        if let state = region.state {
            key("state")
            string(state)
        }
        closeObject()
    }

    /// Members in sorted order, absent ones left out, as every object the writer makes.
    mutating func write(_ geolocation: Geolocation) throws(Refusal) {
        openObject()
        if let accuracy = geolocation.accuracyMeters {
            key("accuracy_m")
            try number(accuracy)
        }
        if let altitude = geolocation.altitude {
            key("altitude")
            try number(altitude)
        }
        if let fixMode = geolocation.fixMode {
            key("fix_mode")
            string(fixMode.rawValue)
        }
        if let fixTime = geolocation.fixTime {
            key("fix_time")
            string(fixTime)
        }
        if let latitude = geolocation.latitude {
            key("latitude")
            try number(latitude)
        }
        if let longitude = geolocation.longitude {
            key("longitude")
            try number(longitude)
        }
        if let quality = geolocation.quality {
            key("quality")
            string(quality)
        }
        if let sensor = geolocation.sensor {
            key("sensor")
            openObject()
            key("driver")
            string(sensor.driver)
            if let firmware = sensor.firmware {
                key("firmware")
                string(firmware)
            }
            if let model = sensor.model {
                key("model")
                string(model)
            }
            closeObject()
        }
        if let source = geolocation.source {
            key("source")
            string(source.rawValue)
        }
        if let type = geolocation.type {
            key("type")
            string(type)
        }
        closeObject()
    }

    mutating func write(_ metrics: MetricsBatch) throws(Refusal) {
        openObject()
        key("samples")
        openArray()
        for sample in metrics.samples {
            try write(sample)
        }
        closeArray()
        key("service")
        openObject()
        key("instance_id")
        string(metrics.service.instanceID)
        key("name")
        string(metrics.service.name)
        key("version")
        string(metrics.service.version)
        closeObject()
        closeObject()
    }

    mutating func write(_ sample: MetricSample) throws(Refusal) {
        openObject()
        key("metric_type")
        string(sample.metricType)
        key("timestamp")
        string(sample.timestamp)
        key("values")
        // claims, metrics, samples, the sample: the values object is the fifth level.
        try object(sample.values, depth: 5)
        closeObject()
    }
}
