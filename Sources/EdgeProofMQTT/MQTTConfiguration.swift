/// How an ``MQTTClient`` connects: broker address, mutual-TLS files, session and flow control.
public struct MQTTConfiguration: Sendable {
    /// Broker host name or address; the broker certificate must be valid for it.
    public var host: String
    public var port: Int
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
        maximumPendingPublishes: Int = 1000, will: MQTTMessage? = nil, username: String? = nil
    ) {
        self.host = host
        self.port = port
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
}
