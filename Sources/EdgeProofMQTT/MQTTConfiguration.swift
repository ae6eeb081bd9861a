/// How an ``MQTTClient`` connects: broker address, mutual-TLS files, session and flow control.
public struct MQTTConfiguration: Sendable {
    /// Broker host name or address; the broker certificate must be valid for it.
    public var host: String
    public var port: Int
    /// Further addresses of the same broker (the other nodes of a cluster), tried in order after
    /// `host`:`port` whenever a connection attempt fails or an established connection is lost.
    public var alternateAddresses: [BrokerAddress]
    /// The client identifier; with a persistent session, the broker keeps state under it. The
    /// broker in `broker/` replaces it with the certificate CN (`use_username_as_clientid`), so one
    /// certificate means one connection.
    public var clientID: String
    /// CA certificate (PEM) that the broker's certificate must chain to. Always verified.
    public var caFile: String
    /// This client's certificate and key (PEM); the broker takes the CN as the user name.
    public var certificateFile: String?
    public var keyFile: String?
    public var keepAlive: Int
    /// false keeps the session (subscriptions, queued QoS 1 messages) across disconnects.
    public var cleanStart: Bool
    /// How long the broker keeps the session after a disconnect, in seconds.
    public var sessionExpiryInterval: UInt32
    /// Reconnect backoff: the first delay, doubled after each failure up to the maximum (seconds).
    public var reconnectDelay: ClosedRange<Double>
    /// QoS 1 messages published and not yet acknowledged; `publish` waits when this many are
    /// outstanding (libmosquitto's own queue is unbounded).
    public var maximumPendingPublishes: Int
    /// Message published by the broker if this client disappears without disconnecting.
    public var will: MQTTMessage?
    /// The MQTT user name sent in CONNECT (no password: the certificate authenticates); nil sends none.
    /// ``BrokerSettings`` sends the client id, which is the certificate's CN.
    public var username: String?

    public init(
        host: String = "127.0.0.1", port: Int = 8883, clientID: String, caFile: String,
        certificateFile: String? = nil, keyFile: String? = nil, keepAlive: Int = 30, cleanStart: Bool = false,
        sessionExpiryInterval: UInt32 = 7 * 24 * 3600, reconnectDelay: ClosedRange<Double> = 0.1...5,
        maximumPendingPublishes: Int = 1000, will: MQTTMessage? = nil, username: String? = nil,
        alternateAddresses: [BrokerAddress] = []
    ) {
        self.host = host
        self.port = port
        self.alternateAddresses = alternateAddresses
        self.clientID = clientID
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.keepAlive = keepAlive
        self.cleanStart = cleanStart
        self.sessionExpiryInterval = sessionExpiryInterval
        self.reconnectDelay = reconnectDelay
        self.maximumPendingPublishes = maximumPendingPublishes
        self.will = will
        self.username = username
    }

    /// Every address of the broker, the first one first.
    public var addresses: [BrokerAddress] { [BrokerAddress(host: host, port: port)] + alternateAddresses }
}

/// One address of a broker: a host name or IP address and a TCP port.
public struct BrokerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[IPv6]:port`, or `host` alone (port `defaultPort`).
    public init?(parsing text: String, defaultPort: Int = 8883) {
        var host = Substring(text)
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else { return nil }
                port = number
            }
        } else if let colon = text.lastIndex(of: ":") {
            guard text.firstIndex(of: ":") == colon, let number = Int(text[text.index(after: colon)...]) else { return nil }
            host = text[..<colon]
            port = number
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
