/// The `broker:` section every component's YAML configuration shares: where the broker is and
/// which certificate to present. Keys: `host` (127.0.0.1), `port` (8883), `ca_file`, `cert_file`,
/// `key_file`, `keepalive` (30), `topic_prefix` (edgeproof/v1), `max_pending_publishes` (1000),
/// `send_username` (true: the client id, which is the certificate's CN, goes as the MQTT user name, as
/// brokers that compare the two want it; mosquitto with `use_identity_as_username` ignores it).
public struct BrokerSettings: Sendable, Hashable, Codable {
    public var host: String
    public var port: Int
    public var caFile: String
    public var certificateFile: String
    public var keyFile: String
    public var keepAlive: Int
    public var topicPrefix: String
    public var maximumPendingPublishes: Int
    /// Send the client id (the certificate's CN) as the MQTT user name.
    public var sendsUsername: Bool

    enum CodingKeys: String, CodingKey {
        case host, port
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
        sendsUsername: Bool = true
    ) {
        self.host = host
        self.port = port
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
        host = try container.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
        port = try container.decodeIfPresent(Int.self, forKey: .port) ?? 8883
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

    /// A client configuration for this broker; `clientID` should be the certificate CN (the broker
    /// in broker/ enforces that anyway).
    public func clientConfiguration(clientID: String, will: MQTTMessage? = nil) -> MQTTConfiguration {
        MQTTConfiguration(
            host: host, port: port, clientID: clientID, caFile: caFile, certificateFile: certificateFile,
            keyFile: keyFile, keepAlive: keepAlive, maximumPendingPublishes: maximumPendingPublishes, will: will,
            username: sendsUsername ? clientID : nil)
    }
}
