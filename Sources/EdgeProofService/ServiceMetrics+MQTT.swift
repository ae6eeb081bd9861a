import EdgeProofMQTT
import Metrics
import Synchronization

extension ServiceMetrics {
    /// Shows `client`'s connection state, connections made and unacknowledged publishes, read at each
    /// exposition, with the broker as `broker` label.
    public func watch(_ client: MQTTClient) {
        let broker = client.configuration.addresses.map(\.description).joined(separator: ",")
        let dimensions = [("broker", broker)]
        let connected = Gauge(label: "mqtt_connected", dimensions: dimensions, factory: self)
        let pending = Gauge(label: "mqtt_pending_publishes", dimensions: dimensions, factory: self)
        // Not a status counter: a FloatingPointCounter reaches Prometheus and the backend only.
        let connections = FloatingPointCounter(label: "mqtt_connections", dimensions: dimensions, factory: self)
        let counted = Mutex(0)
        onExposition {
            connected.record(client.isConnected ? 1 : 0)
            pending.record(client.outstandingPublishes)
            let made = client.connections
            let new = counted.withLock { seen in
                defer { seen = max(seen, made) }
                return made - seen
            }
            if new > 0 { connections.increment(by: Double(new)) }
        }
    }
}
