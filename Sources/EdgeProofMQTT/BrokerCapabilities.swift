/// What a broker said in its CONNACK (MQTT v5 properties) that it supports; a property it left out
/// has the protocol's default. mosquitto announces Receive Maximum and Maximum Packet Size; a broker
/// without shared subscriptions (ejabberd's mod_mqtt) says so, and a `$share/` SUBSCRIBE would be
/// answered by a DISCONNECT there.
public struct BrokerCapabilities: Sendable, Hashable, CustomStringConvertible {
    public var sharedSubscriptionAvailable = true
    public var retainAvailable = true
    public var wildcardSubscriptionAvailable = true
    /// The highest QoS the broker takes in a PUBLISH (MQTT v5 default: 2).
    public var maximumQoS = 2
    /// QoS 1 and 2 publishes the broker accepts unacknowledged at once (default 65,535).
    public var receiveMaximum = 65_535
    /// The largest packet the broker accepts; nil = no limit stated.
    public var maximumPacketSize: Int?
    public var topicAliasMaximum = 0

    public init() {}

    public var description: String {
        "shared subscriptions \(sharedSubscriptionAvailable ? "yes" : "no"), retain \(retainAvailable ? "yes" : "no"), "
            + "maximum QoS \(maximumQoS), receive maximum \(receiveMaximum), "
            + "maximum packet size \(maximumPacketSize.map(String.init) ?? "unlimited"), topic aliases \(topicAliasMaximum)"
    }
}
