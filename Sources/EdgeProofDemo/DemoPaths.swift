import EdgeProofCore
import EdgeProofLocalStack
import Foundation

/// Where the demo keeps things inside its work directory.
struct DemoPaths: Sendable {
    let root: URL

    init(_ root: URL) {
        self.root = root
    }

    var broker: URL { root.appendingPathComponent("broker") }
    var configDirectory: URL { root.appendingPathComponent("config") }
    var records: URL { root.appendingPathComponent("records") }
    /// The same accepted envelopes as OTLP JSON Lines (the collector's `otlp:` output).
    var otlp: URL { root.appendingPathComponent("otlp") }
    /// Each component's `/metrics`, scraped once before the demo stops it.
    var metrics: URL { root.appendingPathComponent("metrics") }
    var spool: URL { root.appendingPathComponent("spool") }
    var allowlist: URL { root.appendingPathComponent("allowlist.yaml") }
    var nonceKeys: URL { root.appendingPathComponent("nonce.keys") }
    var registrarKeys: URL { root.appendingPathComponent("registrar.keys") }
    /// The swtpm manufacturer's CA (it signs every demo TPM's EK certificate) and the registrar's copy of it.
    var manufacturer: URL { root.appendingPathComponent("manufacturer-ca") }
    var trustStore: URL { root.appendingPathComponent("trust-store") }
    var ekCertificates: URL { root.appendingPathComponent("ek-certificates") }
    /// GeoJSON fences the allowlist's places name (`fence_file: fences/…`) and the NMEA logs gpsfake replays.
    var fences: URL { root.appendingPathComponent("fences") }
    var gnss: URL { root.appendingPathComponent("gnss") }
    /// The edge site: its broker's directory and the bridging gateway's durable queues.
    var siteBroker: URL { root.appendingPathComponent("site-broker") }
    var relay: URL { root.appendingPathComponent("relay") }
    /// The second partition's broker (its own CA).
    var partitionBroker: URL { root.appendingPathComponent("partition-b-broker") }

    func config(_ name: String) -> URL { configDirectory.appendingPathComponent(name) }

    func create() throws {
        for directory in [root, configDirectory, records, otlp, metrics, spool, fences, gnss] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
    }
}

/// The YAML configuration files the demo runs with; they double as examples of running each
/// component by hand.
struct DemoConfigurations {
    let paths: DemoPaths
    let broker: any DemoBroker
    /// A second partition collector-1 also subscribes to (`brokers:`), when the demo runs one.
    var partition: MosquittoBroker? = nil

    func brokerSection(_ identity: String) -> String {
        broker.brokerSection(for: identity)
    }

    /// collector-1's broker section: `brokers:` with both partitions' brokers when there are two.
    func collectorBrokerSection() -> String {
        guard let partition, let central = broker as? MosquittoBroker else { return brokerSection("collector-1") }
        func entry(_ broker: MosquittoBroker) -> String {
            "  - {host: 127.0.0.1, port: \(broker.port), ca_file: \(broker.caFile), "
                + "cert_file: \(broker.certificate(for: "collector-1")), key_file: \(broker.key(for: "collector-1"))}"
        }
        return "brokers:\n\(entry(central))\n\(entry(partition))"
    }

    /// `gpsd`: the address of each GNSS agent's gpsfake.
    func write(agents scenarios: [DemoScenario], gpsd: [String: String] = [:]) throws {
        let collector = """
            id: collector-1
            \(collectorBrokerSection())
            allowlist_file: \(paths.allowlist.path)
            nonce_key_file: \(paths.nonceKeys.path)
            records:
              directory: \(paths.records.path)
            otlp:
              directory: \(paths.otlp.path)
            require_trust_level: tpm-ek-cert
            metrics: {listen: "127.0.0.1:\(try FreePort.next())"}
            """
        try Data(collector.utf8).write(to: paths.config("collector.yaml"))
        for mode in DemoRunner.modes {
            let gateway = """
                id: gateway
                mode: \(mode)
                \(brokerSection("gateway"))
                allowlist_file: \(paths.allowlist.path)
                require_trust_level: tpm-ek-cert
                metrics: {listen: "127.0.0.1:\(try FreePort.next())"}
                """
            try Data(gateway.utf8).write(to: paths.config("gateway-\(mode).yaml"))
        }
        let registrar = """
            id: registrar-1
            \(brokerSection("registrar-1"))
            allowlist_file: \(paths.allowlist.path)
            trust_store: \(paths.trustStore.path)
            ek_certificate_dir: \(paths.ekCertificates.path)
            token_key_file: \(paths.registrarKeys.path)
            metrics: {listen: "127.0.0.1:\(try FreePort.next())"}
            """
        try Data(registrar.utf8).write(to: paths.config("registrar.yaml"))
        var written = Set<String>()
        for scenario in scenarios where written.insert(scenario.agent).inserted {
            let location =
                if let address = gpsd[scenario.agent] {
                    """
                    location:
                      place: "\(scenario.location)"
                      source: gpsd
                      gpsd: \(address)
                    """
                } else {
                    "location: \"\(scenario.location)\""
                }
            let agent = """
                name: \(scenario.agent)
                \(brokerSection(scenario.agent))
                \(location)
                spool:
                  directory: \(paths.spool.appendingPathComponent(scenario.agent).path)
                nonce_timeout_s: 10
                receipt_timeout_s: 15
                """
            try Data(agent.utf8).write(to: paths.config("\(scenario.agent).yaml"))
        }
    }
}
