/// The `broker:` section every component's YAML configuration shares: where the broker is and
/// which certificate to present. Keys: `host` (127.0.0.1), `port` (8883) or, for a broker with several
/// nodes (a cluster), `addresses` (a list of `host:port`, tried in order whenever a connection fails or is
/// lost), `ca_file`, `cert_file`,
/// `key_file`, `keepalive` (30), `topic_prefix` (edgeproof/v1), `max_pending_publishes` (1000),
/// `send_username` (true: the client id, which is the certificate's CN, goes as the MQTT user name, as
/// brokers that compare the two want it; mosquitto with `use_identity_as_username` ignores it).
public struct BrokerSettings: Sendable, Hashable, Codable {
    public var host: String
    public var port: Int
    /// The cluster's other nodes, after `host`:`port` (from `addresses`).
    public var alternateAddresses: [BrokerAddress]
    public var caFile: String
    public var certificateFile: String
    public var keyFile: String
    public var keepAlive: Int
    public var topicPrefix: String
    public var maximumPendingPublishes: Int
    /// Send the client id (the certificate's CN) as the MQTT user name.
    public var sendsUsername: Bool

    enum CodingKeys: String, CodingKey {
        case host, port, addresses
        case caFile = "ca_file"
        case certificateFile = "cert_file"
        case keyFile = "key_file"
        case keepAlive = "keepalive"
        case topicPrefix = "topic_prefix"
        case maximumPendingPublishes = "max_pending_publishes"
        case sendsUsername = "send_username"
    }

    public init(
        host: String = "127.0.0.1", port: Int = 8883, caFile: String, certificateFile: String, keyFile: String,
        keepAlive: Int = 30, topicPrefix: String = "edgeproof/v1", maximumPendingPublishes: Int = 1000,
        sendsUsername: Bool = true, alternateAddresses: [BrokerAddress] = []
    ) {
        self.host = host
        self.port = port
        self.alternateAddresses = alternateAddresses
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.keepAlive = keepAlive
        self.topicPrefix = topicPrefix
        self.maximumPendingPublishes = maximumPendingPublishes
        self.sendsUsername = sendsUsername
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let listed = try container.decodeIfPresent([String].self, forKey: .addresses) {
            guard !container.contains(.host), !container.contains(.port) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .addresses, in: container,
                    debugDescription: "give either addresses or host and port, not both")
            }
            var addresses: [BrokerAddress] = []
            for text in listed {
                guard let address = BrokerAddress(parsing: text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .addresses, in: container,
                        debugDescription: "'\(text)' is not host:port (IPv6 as [address]:port)")
                }
                guard !addresses.contains(address) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .addresses, in: container, debugDescription: "\(address) is listed twice")
                }
                addresses.append(address)
            }
            guard let first = addresses.first else {
                throw DecodingError.dataCorruptedError(
                    forKey: .addresses, in: container, debugDescription: "lists no address")
            }
            host = first.host
            port = first.port
            alternateAddresses = Array(addresses.dropFirst())
        } else {
            host = try container.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try container.decodeIfPresent(Int.self, forKey: .port) ?? 8883
            alternateAddresses = []
        }
        caFile = try container.decode(String.self, forKey: .caFile)
        certificateFile = try container.decode(String.self, forKey: .certificateFile)
        keyFile = try container.decode(String.self, forKey: .keyFile)
        keepAlive = try container.decodeIfPresent(Int.self, forKey: .keepAlive) ?? 30
        guard keepAlive == 0 || (5...65535).contains(keepAlive) else {
            // libmosquitto refuses anything else with "invalid function arguments" at every connect.
            throw DecodingError.dataCorruptedError(
                forKey: .keepAlive, in: container,
                debugDescription: "\(keepAlive) is not a keepalive libmosquitto accepts; use 0 (none) or 5 to 65535 seconds")
        }
        topicPrefix = try container.decodeIfPresent(String.self, forKey: .topicPrefix) ?? "edgeproof/v1"
        maximumPendingPublishes = try container.decodeIfPresent(Int.self, forKey: .maximumPendingPublishes) ?? 1000
        sendsUsername = try container.decodeIfPresent(Bool.self, forKey: .sendsUsername) ?? true
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if alternateAddresses.isEmpty {
            try container.encode(host, forKey: .host)
            try container.encode(port, forKey: .port)
        } else {
            let addresses = [BrokerAddress(host: host, port: port)] + alternateAddresses
            try container.encode(addresses.map(\.description), forKey: .addresses)
        }
        try container.encode(caFile, forKey: .caFile)
        try container.encode(certificateFile, forKey: .certificateFile)
        try container.encode(keyFile, forKey: .keyFile)
        try container.encode(keepAlive, forKey: .keepAlive)
        try container.encode(topicPrefix, forKey: .topicPrefix)
        try container.encode(maximumPendingPublishes, forKey: .maximumPendingPublishes)
        try container.encode(sendsUsername, forKey: .sendsUsername)
    }

    /// A client configuration for this broker; `clientID` should be the certificate CN (the broker
    /// in broker/ enforces that anyway).
    public func clientConfiguration(clientID: String, will: MQTTMessage? = nil) -> MQTTConfiguration {
        MQTTConfiguration(
            host: host, port: port, clientID: clientID, caFile: caFile, certificateFile: certificateFile,
            keyFile: keyFile, keepAlive: keepAlive, maximumPendingPublishes: maximumPendingPublishes, will: will,
            username: sendsUsername ? clientID : nil, alternateAddresses: alternateAddresses)
    }
}
