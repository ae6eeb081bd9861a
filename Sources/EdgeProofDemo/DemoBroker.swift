import EdgeProofLocalStack
import EdgeProofMQTT
import Logging

/// The MQTT broker the demo runs on: one mosquitto (the default) or a clustered engine
/// (`--cluster ejabberd`). Everything the demo writes or connects goes through this, so the scenarios
/// run unchanged on either.
protocol DemoBroker: Sendable {
    /// The `broker:` section of `identity`'s configuration (its certificate and where it connects).
    func brokerSection(for identity: String) -> String
    /// A client configuration for `identity`, for the demo's own clients (the compromised agent, the monitor).
    func clientConfiguration(for identity: String) -> MQTTConfiguration
    /// One line for the log: what runs where.
    var summary: String { get }
    /// The MQTT v5 reason codes with which this broker refuses a SUBSCRIBE its rules do not grant.
    var subscribeRefusals: Set<Int32> { get }
}

extension DemoBroker {
    /// A connected read-only `monitor` client following every component's retained status.
    func statusMonitor(logger: Logger) async throws -> (client: MQTTClient, statuses: StatusWatcher) {
        let client = try MQTTClient(configuration: clientConfiguration(for: "monitor"), logger: logger)
        let statuses = StatusWatcher(client)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        try await client.subscribe("edgeproof/v1/status/#")
        return (client, statuses)
    }
}

extension MosquittoBroker: DemoBroker {
    func brokerSection(for identity: String) -> String {
        configurationSection(for: identity)
    }

    func clientConfiguration(for identity: String) -> MQTTConfiguration {
        MQTTConfiguration(
            port: Int(port), clientID: identity, caFile: caFile, certificateFile: certificate(for: identity),
            keyFile: key(for: identity), cleanStart: true)
    }

    var subscribeRefusals: Set<Int32> { [0x87] }

    var summary: String {
        "mosquitto (pid \(pid.map(String.init) ?? "?")) on 127.0.0.1:\(port), mutual TLS, ACL"
    }
}

extension EjabberdCluster: DemoBroker {
    /// Agents connect to node 1 first, every other role (gateway, collector, registrar, monitor) to node 2;
    /// each lists the other node as its second address.
    func nodes(for identity: String) -> [Node] {
        let roles = ["gateway", "collector", "registrar", "bridge", "monitor"]
        let isService = roles.contains { identity.hasPrefix($0) }
        return isService ? Array(nodes.reversed()) : nodes
    }

    func brokerSection(for identity: String) -> String {
        configurationSection(for: identity, nodes: nodes(for: identity))
    }

    /// Resumes the identity's session rather than starting clean: ejabberd 23.01 lets a clean-start connection
    /// replace a detached session of the same client id, and the old session's teardown can then remove the new
    /// one's topic filters from its subscription index (seen here: the compromised agent's rejection never
    /// arrived). Resuming hands the session over without that race; EdgeProof's own components always resume.
    func clientConfiguration(for identity: String) -> MQTTConfiguration {
        let addresses = nodes(for: identity).map { BrokerAddress(host: "127.0.0.1", port: Int($0.mqttPort)) }
        return MQTTConfiguration(
            host: addresses[0].host, port: addresses[0].port, clientID: identity, caFile: caFile,
            certificateFile: certificate(for: identity), keyFile: key(for: identity), cleanStart: false,
            username: identity, alternateAddresses: Array(addresses.dropFirst()))
    }

    /// 0x8F (topic filter invalid) for a filter the rules do not grant; a `$share/` filter is never sent to it
    /// (the client subscribes to the plain filter where shared subscriptions are unavailable).
    var subscribeRefusals: Set<Int32> { [0x8F] }

    var summary: String {
        "ejabberd cluster of \(nodes.count) nodes: "
            + nodes.map { "\($0.erlangName) (pid \(pid(of: $0).map(String.init) ?? "?")) MQTT on 127.0.0.1:\($0.mqttPort)" }
            .joined(separator: ", ") + "; mutual TLS, broker/acl's rules"
    }
}
