import EdgeProofMQTT
import Logging

extension MosquittoBroker {
    /// The `broker:` section of a component's YAML configuration for `identity` (a certificate CN); `section`
    /// names it otherwise (a site bridge's `upstream:`), `port` reaches the broker another way (a proxy).
    public func configurationSection(for identity: String, section: String = "broker", port: UInt16? = nil) -> String {
        """
        \(section):
          host: 127.0.0.1
          port: \(port ?? self.port)
          ca_file: \(caFile)
          cert_file: \(certificate(for: identity))
          key_file: \(key(for: identity))
        """
    }

    /// A connected read-only `monitor` client following every component's retained status.
    public func statusMonitor(logger: Logger) async throws -> (client: MQTTClient, statuses: StatusWatcher) {
        let client = try MQTTClient(
            configuration: MQTTConfiguration(
                port: Int(port), clientID: "monitor", caFile: caFile, certificateFile: certificate(for: "monitor"),
                keyFile: key(for: "monitor"), cleanStart: true),
            logger: logger)
        let statuses = StatusWatcher(client)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        try await client.subscribe("edgeproof/v1/status/#")
        return (client, statuses)
    }
}
