/// The signed content of an envelope, with the prototype's field names.
public struct EnvelopeClaims: Sendable, Hashable, Codable {
    /// Contract version; this implementation speaks 1.
    public var version: Int
    public var agentName: String
    public var publicKeyHash: PublicKeyHash
    public var nonce: String
    /// Signing time, ISO 8601 UTC with milliseconds.
    public var timestamp: String
    public var geographicRegion: GeographicRegion
    public var geolocation: Geolocation?
    public var metrics: MetricsBatch

    public static let currentVersion = 1

    enum CodingKeys: String, CodingKey {
        case version = "v"
        case agentName = "agent_name"
        case publicKeyHash = "tpm_public_key_hash"
        case nonce
        case timestamp
        case geographicRegion = "geographic_region"
        case geolocation
        case metrics
    }

    public init(
        agentName: String,
        publicKeyHash: PublicKeyHash,
        nonce: String,
        timestamp: String,
        geographicRegion: GeographicRegion,
        geolocation: Geolocation? = nil,
        metrics: MetricsBatch
    ) {
        self.version = Self.currentVersion
        self.agentName = agentName
        self.publicKeyHash = publicKeyHash
        self.nonce = nonce
        self.timestamp = timestamp
        self.geographicRegion = geographicRegion
        self.geolocation = geolocation
        self.metrics = metrics
    }
}

/// Many samples per envelope: one TPM signature covers them all.
public struct MetricsBatch: Sendable, Hashable, Codable {
    public var service: ServiceInfo
    public var samples: [MetricSample]

    public init(service: ServiceInfo, samples: [MetricSample]) {
        self.service = service
        self.samples = samples
    }
}

public struct ServiceInfo: Sendable, Hashable, Codable {
    public var name: String
    public var version: String
    public var instanceID: String

    enum CodingKeys: String, CodingKey {
        case name, version
        case instanceID = "instance_id"
    }

    public init(name: String, version: String, instanceID: String) {
        self.name = name
        self.version = version
        self.instanceID = instanceID
    }
}

public struct MetricSample: Sendable, Hashable, Codable {
    /// Capture time, ISO 8601 UTC.
    public var timestamp: String
    /// "system" or "application" (the prototype's two kinds); other names pass through.
    public var metricType: String
    public var values: [String: JSONValue]

    enum CodingKeys: String, CodingKey {
        case timestamp
        case metricType = "metric_type"
        case values
    }

    public init(timestamp: String, metricType: String, values: [String: JSONValue]) {
        self.timestamp = timestamp
        self.metricType = metricType
        self.values = values
    }
}
