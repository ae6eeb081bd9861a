import EdgeProofAgent
import EdgeProofCollector
import EdgeProofCore
import EdgeProofDemo
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Logging
import ServiceLifecycle

/// A whole EdgeProof installation for one test: a real mosquitto with mutual TLS and the ACL, one real
/// swtpm per agent, an allowlist, a shared nonce key, and YAML configurations for every component.
final class SystemFixture {
    let directory: TemporaryDirectory
    let broker: MosquittoBroker
    var tpms: [String: SoftwareTPM] = [:]
    var signers: [String: TPMSigner] = [:]
    /// Components started as child processes (``collectorProcess(_:records:)``, ``gatewayProcess(mode:)``);
    /// ``close()`` stops them first.
    var processes: [ServiceProcess] = []
    let logger: Logger

    var allowlistPath: String { directory.appending("allowlist.yaml").path }
    var nonceKeyPath: String { directory.appending("nonce.keys").path }

    /// `extraClients`: certificates (and ACL roles by CN) for identities no component uses, e.g. a
    /// rogue "gateway-rogue" in attack tests.
    init(agents: [String], collectors: [String], extraClients: [String] = []) async throws {
        directory = try TemporaryDirectory(prefix: "edgeproof-system")
        broker = try await MosquittoBroker.start(
            clients: ["gateway", "monitor", "monitor-events"] + collectors + agents + extraClients,
            directory: TemporaryDirectory(at: directory.appending("broker")))
        var logger = Logger(label: "edgeproof.system-test")
        logger.logLevel = ProcessInfo.processInfo.environment["EDGEPROOF_TEST_LOG"] == nil ? .critical : .info
        self.logger = logger
        var allowlist = Allowlist()
        for agent in agents {
            let tpm = try await SoftwareTPM.start()
            tpms[agent] = tpm
            let device = try TPMDevice(tcti: tpm.tcti)
            let key = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            signers[agent] = try await TPMSigner(device: device, handle: .defaultSigningKey)
            try allowlist.add(
                AllowlistEntry(
                    name: agent, key: key.publicKey, createdAt: Timestamp.string(from: Date()),
                    allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        }
        try AllowlistFile(path: allowlistPath).save(allowlist)
        try NonceKeyFile.generate(at: URL(fileURLWithPath: nonceKeyPath))
    }

    /// Stops everything and removes the directory, unless `EDGEPROOF_KEEP_SYSTEM_DIR` is set (then
    /// configurations, logs, records and the broker's files stay for a look, and the path is printed).
    func close() {
        processes.forEach { $0.stop() }
        tpms.values.forEach { $0.stop() }
        if ProcessInfo.processInfo.environment["EDGEPROOF_KEEP_SYSTEM_DIR"] != nil {
            broker.stop()
            print("SystemFixture: kept \(directory.path)")
            return
        }
        broker.close()
        directory.remove()
    }

    func brokerSection(_ identity: String) -> String {
        broker.configurationSection(for: identity)
    }

    func recordsDirectory(_ collector: String) -> URL { directory.appending("records-\(collector)") }

    /// Writes `yaml` to `name` in the installation's directory; returns the path.
    func write(_ name: String, _ yaml: String) throws -> String {
        let path = directory.appending(name).path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Writes `<id>.yaml` for a collector; `extra` lines are appended as they are.
    func collectorConfiguration(_ id: String, extra: String = "") throws -> String {
        try write(
            "\(id).yaml",
            """
            id: \(id)
            \(brokerSection(id))
            allowlist_file: \(allowlistPath)
            nonce_key_file: \(nonceKeyPath)
            records:
              directory: \(recordsDirectory(id).path)
            \(extra)
            """)
    }

    /// Writes `gateway.yaml`; `extra` lines are appended as they are.
    func gatewayConfiguration(mode: String = "passthrough", extra: String = "") throws -> String {
        try write(
            "gateway.yaml",
            """
            id: gateway
            mode: \(mode)
            \(brokerSection("gateway"))
            allowlist_file: \(allowlistPath)
            \(extra)
            """)
    }

    /// The collector `id` composed as the CLI runs it: its client, the collector, its allowlist watcher.
    func collector(_ id: String, extra: String = "") throws -> ComposedService<Collector> {
        let path = try collectorConfiguration(id, extra: extra)
        return try Collector.compose(
            configuration: try CollectorConfiguration.load(file: path, environment: [:]), logger: logger)
    }

    /// The gateway composed as the CLI runs it: its client, the gateway, its allowlist watcher (enforce).
    func gateway(mode: String = "passthrough", extra: String = "") throws -> ComposedService<Gateway> {
        let path = try gatewayConfiguration(mode: mode, extra: extra)
        return try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: path, environment: [:]), logger: logger)
    }

    func spoolDirectory(_ agent: String) -> URL { directory.appending("spool-\(agent)") }

    /// An in-process agent, on `broker` (default: the installation's). `receiptsFrom` (YAML `receipts_from`): the collectors whose receipts an
    /// envelope needs before it leaves the spool (empty: the key is left out).
    func agent(
        _ name: String, sampleInterval: Double = 10, samplesPerEnvelope: Int = 1, receiptsFrom: [String] = [],
        nonceTimeout: Double = 5, receiptTimeout: Double = 10, gpsd: String? = nil, broker: MosquittoBroker? = nil,
        spoolMaximumBytes: Int? = nil, extra: String = ""
    ) throws -> Agent {
        let location =
            gpsd.map { "location: {place: US/California/Santa Clara, source: gpsd, gpsd: \"\($0)\"}" }
            ?? "location: US/California/Santa Clara"
        let receipts = receiptsFrom.isEmpty ? "" : "receipts_from: [\(receiptsFrom.joined(separator: ", "))]"
        let path = try write(
            "\(name).yaml",
            """
            name: \(name)
            \((broker ?? self.broker).configurationSection(for: name))
            \(location)
            sample_interval_s: \(sampleInterval)
            samples_per_envelope: \(samplesPerEnvelope)
            spool:
              directory: \(spoolDirectory(name).path)
              \(spoolMaximumBytes.map { "max_bytes: \($0)" } ?? "")
            nonce_timeout_s: \(nonceTimeout)
            receipt_timeout_s: \(receiptTimeout)
            \(receipts)
            \(extra)
            """)
        guard let signer = signers[name] else { throw TestFixtureError("no TPM for \(name)") }
        return try Agent(configuration: try AgentConfiguration.load(file: path, environment: [:]), signer: signer, logger: logger)
    }

    /// A read-only connection that follows the components' retained status.
    func monitor() async throws -> (MQTTClient, StatusWatcher) {
        try await broker.statusMonitor(logger: logger)
    }

    /// Every record line in a collector's closed and open records files.
    func records(of collector: String) throws -> [StoredRecord] {
        let files = try FileManager.default.contentsOfDirectory(at: recordsDirectory(collector), includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("records-") }
        var records: [StoredRecord] = []
        for file in files {
            for line in try Data(contentsOf: file).split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                records.append(try JSONDecoder().decode(StoredRecord.self, from: Data(line)))
            }
        }
        return records
    }
}

extension Agent {
    /// The agent as `edgeproof agent` composes it: its client first, then the agent.
    func services(_ logger: Logger) throws -> [any Service] {
        try composed().services
    }
}
