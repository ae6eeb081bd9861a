import EdgeProofAgent
import EdgeProofAttestation
import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofOTLP
import EdgeProofRegistrar
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging
import ServiceLifecycle

/// `edgeproof demo`: the whole system on this machine. Starts a mosquitto with mutual TLS and the
/// ACL, one swtpm per agent, a collector and a gateway, and runs the prototype's three scenarios and
/// the attacks of a compromised agent in both gateway modes; then re-verifies what was stored. Every process it starts, it stops.
public struct DemoRunner: Sendable {
    public let workdir: URL
    /// Where the system runs: one mosquitto, or a clustered engine.
    public let engine: Engine
    let say: @Sendable (String) -> Void
    let serviceLogger: Logger

    public static let modes = ["passthrough", "enforce"]
    /// Agents whose keys the registrar attests: the two enrollment scenarios and the GNSS agents.
    static let attestedAgents = 2 + DemoScenario.gnss.count

    /// The MQTT broker the demo runs on.
    public enum Engine: String, Sendable, CaseIterable {
        /// One mosquitto with the ACL (and, for the site phase, a site mosquitto).
        case mosquitto
        /// A 2-node ejabberd cluster: agents on node 1, gateway, collector and registrar on node 2; node 1 is
        /// killed mid-run. No site phase (it bridges two mosquittos; see broker/README.md).
        case ejabberd
    }

    public init(workdir: URL, engine: Engine = .mosquitto, say: @escaping @Sendable (String) -> Void) {
        self.workdir = workdir
        self.engine = engine
        self.say = say
        var logger = Logger(label: "edgeproof.demo")
        // Rejections are the point of two scenarios; only real errors are worth showing, unless
        // EDGEPROOF_DEMO_LOG_LEVEL asks for more (debugging the demo itself).
        logger.logLevel =
            ProcessInfo.processInfo.environment["EDGEPROOF_DEMO_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        serviceLogger = logger
    }

    /// Everything the demo found, for the table and the exit status.
    public struct Report: Sendable {
        public var outcomes: [DemoOutcome]
        public var recordsDirectory: URL
        public var verification: [RecordFileVerifier.Report]
        public var passed: Bool {
            outcomes.allSatisfy(\.passed) && !verification.isEmpty && verification.allSatisfy(\.allVerified)
        }
    }

    public func run() async throws -> Report {
        let paths = DemoPaths(workdir)
        try paths.create()
        say("work directory: \(workdir.path)")

        var agents: [String] = []
        for scenario in DemoScenario.all + DemoScenario.enrollments + DemoScenario.gnss
        where !agents.contains(scenario.agent) {
            agents.append(scenario.agent)
        }
        let clients = ["gateway", "collector-1", "registrar-1", "monitor", Self.bridge] + agents
        let broker: any DemoBroker
        let cluster: EjabberdCluster?
        let partition: MosquittoBroker?
        switch engine {
        case .mosquitto:
            broker = try await MosquittoBroker.start(clients: clients, directory: TemporaryDirectory(at: paths.broker))
            cluster = nil
            partition = try await MosquittoBroker.start(
                clients: Self.partitionClients, directory: TemporaryDirectory(at: paths.partitionBroker))
        case .ejabberd:
            let started = try await EjabberdCluster.start(nodes: 2, clients: clients, directory: TemporaryDirectory(at: paths.broker))
            broker = started
            cluster = started
            partition = nil
        }
        say("started \(broker.summary)")
        if let partition {
            say("started a second partition's mosquitto (pid \(partition.pid.map(String.init) ?? "?")) on 127.0.0.1:\(partition.port), its own CA")
        }
        var tpms: [SoftwareTPM] = []
        var receivers: [GPSFake] = []
        defer {
            receivers.forEach { $0.stop() }
            tpms.forEach { $0.stop() }
            (broker as? MosquittoBroker)?.stop()
            partition?.stop()
            cluster?.stop()
            let brokers = partition == nil ? "the \(engine.rawValue) broker" : "both partitions' mosquittos"
            say("stopped \(brokers), \(tpms.count) swtpm instances and \(receivers.count) gpsfake instances")
        }

        // The GNSS agents' receivers: gpsd fed by gpsfake, one per agent, from NMEA logs written here.
        try Data(DemoGeography.santaClaraFence.utf8).write(to: paths.fences.appendingPathComponent("santa-clara.geojson"))
        var gpsd: [String: String] = [:]
        for scenario in DemoScenario.gnss {
            guard let track = scenario.gnss else { continue }
            let receiver = try GPSFake.start(
                replaying: DemoGeography.fixes(for: track), name: track.rawValue, in: paths.gnss)
            receivers.append(receiver)
            gpsd[scenario.agent] = receiver.address
            say("\(scenario.agent): gpsfake (pid \(receiver.processIdentifier)) replays gnss/\(track.rawValue).nmea to gpsd on \(receiver.address)")
        }
        say("fence: fences/santa-clara.geojson (Santa Clara, one hole); gnss agents need source gnss, ≤ \(Int(DemoGeography.maximumAccuracyMeters)) m, fixes ≤ \(Int(DemoGeography.maximumFixAgeSeconds)) s old, receiver NMEA0183")

        // Each agent is its own device: a TPM manufactured with EK certificates from one manufacturer CA (the
        // registrar's trust store), and a sign-only key that never leaves it.
        let manufacturer = try SoftwareTPMManufacturer(directory: TemporaryDirectory(at: paths.manufacturer))
        var signers: [String: TPMSigner] = [:]
        var devices: [String: SoftwareTPM] = [:]
        var tpmDevices: [String: TPMDevice] = [:]
        var allowlist = Allowlist()
        for agent in agents {
            let tpm = try await SoftwareTPM.start(endorsementCertificates: true, manufacturer: manufacturer)
            tpms.append(tpm)
            devices[agent] = tpm
            let device = try TPMDevice(tcti: tpm.tcti)
            tpmDevices[agent] = device
            let key = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            signers[agent] = try await TPMSigner(device: device, handle: .defaultSigningKey)
            say("\(agent): swtpm \(tpm.tcti) with EK certificates, ECC P-256 key at \(key.handle), tpm_public_key_hash \(key.publicKey.hash.hex.prefix(16))…")
            if let scenario = DemoScenario.all.first(where: { $0.agent == agent }), scenario.allowlisted,
                scenario.enrollment == .configured
            {
                try allowlist.add(
                    AllowlistEntry(
                        name: agent, key: key.publicKey, createdAt: Timestamp.string(from: Date()),
                        allowedPlaces: DemoScenario.allowedPlaces))
            }
        }
        try AllowlistFile(url: paths.allowlist).save(allowlist)
        try NonceKeyFile.generate(at: paths.nonceKeys)
        try NonceKeyFile.generate(at: paths.registrarKeys)
        try FileManager.default.createDirectory(at: paths.trustStore, withIntermediateDirectories: true)
        for (certificate, name) in [(manufacturer.rootCertificate, "root.pem"), (manufacturer.issuerCertificate, "issuer.pem")] {
            try FileManager.default.copyItem(at: certificate, to: paths.trustStore.appendingPathComponent(name))
        }
        say("allowlist \(paths.allowlist.path): \(allowlist.entries.map { "\($0.name) (configured)" }.joined(separator: ", ")); the rest enroll")

        let configs = DemoConfigurations(paths: paths, broker: broker, partition: partition)
        try configs.write(agents: DemoScenario.all + DemoScenario.enrollments + DemoScenario.gnss, gpsd: gpsd)

        let (monitor, statuses) = try await broker.statusMonitor(logger: serviceLogger)
        var outcomes = try await enroll(paths: paths, devices: tpmDevices, statuses: statuses)
        let enrolled = try AllowlistFile(url: paths.allowlist).load()
        outcomes.append(try await auditEvidence(enrolled, paths: paths))
        say("allowlist now: \(enrolled.entries.map { "\($0.name) (\($0.trustLevel))" }.joined(separator: ", ")); gateway and collector require tpm-ek-cert")

        let collector = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: paths.config("collector.yaml").path, environment: [:]),
            logger: serviceLogger)
        let collectorGroup = ServiceGroup(services: collector.services, logger: serviceLogger)
        let operations = DemoOperations(paths: paths, say: say)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await collectorGroup.run() }
            try await statuses.waitForOnline("collector/collector-1")
            say("started collector-1 (records in \(paths.records.path))")
            let collectorMetrics = try await operations.announce(collector.helpers, component: "collector", id: "collector-1")

            for mode in Self.modes {
                let since = Date()
                let gateway = try Gateway.compose(
                    configuration: try GatewayConfiguration.load(file: paths.config("gateway-\(mode).yaml").path, environment: [:]),
                    logger: serviceLogger)
                let gatewayGroup = ServiceGroup(services: gateway.services, logger: serviceLogger)
                group.addTask { try await gatewayGroup.run() }
                try await statuses.waitForOnline("gateway/gateway", after: since)
                say("started gateway in \(mode) mode")
                let gatewayMetrics = try await operations.announce(gateway.helpers, component: "gateway", id: "gateway")
                for scenario in DemoScenario.all + DemoScenario.gnss + DemoScenario.attacks + DemoScenario.faults {
                    if scenario.powerLosses > 0, let tpm = devices[scenario.agent] {
                        // Pull the plug on the agent's TPM: SIGKILL, no TPM2_Shutdown, restart on its state.
                        for _ in 0..<scenario.powerLosses {
                            tpm.kill()
                            try await tpm.restart()
                        }
                        say("\(scenario.agent): its swtpm lost power \(scenario.powerLosses) times (SIGKILL, no TPM2_Shutdown)")
                    }
                    outcomes.append(
                        try await run(scenario, mode: mode, paths: paths, broker: broker, signer: signers[scenario.agent]))
                }
                if mode == Self.modes.last {
                    outcomes.append(try await runApplicationMetrics(paths: paths, signer: signers[DemoScenario.applicationMetrics.agent]))
                }
                outcomes.append(await operations.scrape(gatewayMetrics, component: "gateway", id: "gateway", mode: "operations"))
                await gatewayGroup.triggerGracefulShutdown()
                try await statuses.waitForOffline("gateway/gateway", after: since)
                say("stopped gateway (\(mode))")
            }
            if let central = broker as? MosquittoBroker {
                outcomes += try await runSite(
                    paths: paths, central: central, signer: signers[DemoScenario.site[0].agent], statuses: statuses)
                if let partition {
                    outcomes += try await runPartition(
                        paths: paths, central: central, partition: partition,
                        signer: signers[DemoScenario.partition[0].agent])
                }
            }
            if let cluster {
                outcomes.append(
                    try await runNodeLoss(
                        cluster: cluster, paths: paths, signer: signers[DemoScenario.clusterNodeLoss.agent], statuses: statuses))
            }
            outcomes.append(await operations.scrape(collectorMetrics, component: "collector", id: "collector-1", mode: "operations"))
            await collectorGroup.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        await monitor.shutdown()
        say("stopped collector-1")

        func files(in directory: URL) throws -> [URL] {
            try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "jsonl" }.sorted { $0.path < $1.path }
        }
        let verifier = RecordFileVerifier(allowlist: enrolled)
        let verification = try files(in: paths.records).map { url throws(StorageError) in try verifier.verify(file: url) }
        let otlp = try files(in: paths.otlp).map { url throws(StorageError) in
            try verifier.verify(file: url) { line in
                do throws(ValidationFailure) {
                    try OTLPRecord.verify(line: line, with: enrolled)
                    return nil
                } catch {
                    return error.description
                }
            }
        }
        outcomes.append(DemoOperations.otlpOutcome(records: verification, otlp: otlp))
        return Report(outcomes: outcomes, recordsDirectory: paths.records, verification: verification + otlp)
    }

    /// Starts the registrar, pre-registers or approves the allowlisted agents' EKs as their scenarios say,
    /// and runs the enrollment scenarios; stops the registrar.
    private func enroll(paths: DemoPaths, devices: [String: TPMDevice], statuses: StatusWatcher) async throws
        -> [DemoOutcome]
    {
        let allowlistFile = AllowlistFile(url: paths.allowlist)
        let book = EnrollmentBook(allowlist: allowlistFile, ledger: AttestationLedger(besideAllowlist: allowlistFile))
        func enrollment(_ agent: String) throws -> DemoEnrollment {
            guard let device = devices[agent] else { throw DemoError("no TPM for \(agent)") }
            let configuration = try AgentConfiguration.load(file: paths.config("\(agent).yaml").path, environment: [:])
            return DemoEnrollment(configuration: configuration, device: device, logger: serviceLogger)
        }
        for scenario in DemoScenario.enrollments where scenario.allowlisted && scenario.enrollment == .expected {
            let hash = try await enrollment(scenario.agent).enrollment.ekPublicHash()
            try book.expect(name: scenario.agent, ekPublicHash: hash, places: DemoScenario.allowedPlaces, now: Date())
            say("operator: allowlist expect --name \(scenario.agent) --ek-hash \(hash.hex.prefix(16))… (from `edgeproof tpm ek --format hash`)")
        }

        let registrar = try Registrar.compose(
            configuration: try RegistrarConfiguration.load(file: paths.config("registrar.yaml").path, environment: [:]),
            recorder: book, logger: serviceLogger)
        let running = registrar.start(logger: serviceLogger)
        var outcomes: [DemoOutcome] = []
        let operations = DemoOperations(paths: paths, say: say)
        do {
            try await statuses.waitForOnline("registrar/registrar-1")
            say("started registrar-1 (trust store: the swtpm manufacturer CA)")
            let registrarMetrics = try await operations.announce(registrar.helpers, component: "registrar", id: "registrar-1")
            for scenario in DemoScenario.enrollments {
                outcomes.append(try await runEnrollment(scenario, enrollment: try enrollment(scenario.agent),
                    victim: try enrollment("agent-001"), book: book))
            }
            try await enrollGNSSAgents(enrollment: enrollment, book: book)
            outcomes.append(await operations.scrape(registrarMetrics, component: "registrar", id: "registrar-1", mode: "operations"))
        } catch {
            try? await running.stop()
            throw error
        }
        try await running.stop()
        say("stopped registrar-1")
        return outcomes
    }

    /// The GNSS agents enroll as agent-001 did (EK pre-registered); their entries then get the fenced place and
    /// their location requirements, as an operator would set them.
    private func enrollGNSSAgents(
        enrollment: (String) throws -> DemoEnrollment, book: EnrollmentBook
    ) async throws {
        for scenario in DemoScenario.gnss {
            let agent = try enrollment(scenario.agent)
            let hash = try await agent.enrollment.ekPublicHash()
            try book.expect(name: scenario.agent, ekPublicHash: hash, places: DemoScenario.fencedPlaces, now: Date())
            let result = try await agent.enroll()
            guard result.status == .approved else {
                throw DemoError("\(scenario.agent) did not enroll: \(result.rejection?.error ?? "\(result.status)")")
            }
        }
        // No registrar writes meanwhile: the enrollments above are all approved.
        let file = AllowlistFile(url: DemoPaths(workdir).allowlist)
        var allowlist = try file.load()
        for scenario in DemoScenario.gnss {
            guard var entry = allowlist.entry(named: scenario.agent) else { throw DemoError("\(scenario.agent) is not enrolled") }
            entry.locationRequirements = DemoScenario.gnssRequirements
            try allowlist.replace(entry)
        }
        try file.save(allowlist)
        say("\(DemoScenario.gnss.map(\.agent).joined(separator: ", ")): enrolled (EK pre-registered); allowed place Santa Clara with fence_file fences/santa-clara.geojson, location_requirements set")
    }

    /// `edgeproof allowlist verify-evidence`: every trust block re-checked offline against the manufacturer CA
    /// and the registrar's EK certificate store.
    private func auditEvidence(_ allowlist: Allowlist, paths: DemoPaths) async throws -> DemoOutcome {
        let auditor = TrustEvidenceAuditor(
            trustStore: try EKCertificateVerifier(trustStoreDirectory: paths.trustStore), ekCertificates: paths.ekCertificates)
        var verified = 0
        var failures: [String] = []
        for entry in allowlist.entries {
            switch await auditor.audit(entry) {
            case .verified(_, certificateChecked: true): verified += 1
            case .verified(_, certificateChecked: false): failures.append("\(entry.name): EK certificate not re-checked")
            case .configured: break
            case .failed(let problem): failures.append("\(entry.name): \(problem)")
            }
        }
        let scenario = DemoScenario.evidenceAudit
        return DemoOutcome(
            scenario: scenario, mode: "offline", expectedRejectedBy: nil,
            observed: failures.isEmpty ? "\(verified) trust blocks verified" : failures.joined(separator: "; "),
            rejection: nil, passed: failures.isEmpty && verified == Self.attestedAgents)
    }

    private func runEnrollment(
        _ scenario: DemoScenario, enrollment: DemoEnrollment, victim: DemoEnrollment, book: EnrollmentBook
    ) async throws -> DemoOutcome {
        func outcome(_ result: EnrollmentResult, note: String = "") -> DemoOutcome {
            let observed: String
            let passed: Bool
            switch result.status {
            case .approved:
                observed = note + "enrolled (\(result.trustLevel?.rawValue ?? "?"))"
                passed = result.trustLevel.map { scenario.expectation == .enrolled($0) } ?? false
            case .pending:
                observed = note + "pending"
                passed = false
            case .refused:
                let code = result.rejection?.reasonCode ?? "?"
                observed = note + "rejected (\(code))"
                passed = scenario.expectation == .rejected(RejectionReason.all.first { $0.code == code } ?? .malformedEnvelope)
                    && result.rejection?.rejectedBy == .registrar
            }
            let expectedBy: RejectingComponent? = if case .rejected = scenario.expectation { .registrar } else { nil }
            return DemoOutcome(
                scenario: scenario, mode: "registrar", expectedRejectedBy: expectedBy, observed: observed,
                rejection: result.rejection, passed: passed)
        }
        guard scenario.allowlisted else {
            return outcome(try await enrollment.enrollPresenting(ekOf: victim.enrollment))
        }
        let first = try await enrollment.enroll()
        guard scenario.enrollment == .approvedByOperator, first.status == .pending else { return outcome(first) }
        // The operator compares the EK hash the pending entry shows with the one read from the device.
        let typed = try await enrollment.enrollment.ekPublicHash()
        _ = try book.approve(
            name: scenario.agent, ekPublicHash: typed, places: DemoScenario.allowedPlaces, approvedBy: "operator:demo",
            now: Date())
        say("operator: allowlist approve --name \(scenario.agent) --ek-hash \(typed.hex.prefix(16))…")
        return outcome(try await enrollment.enroll(), note: "pending, approved; ")
    }

    private func run(
        _ scenario: DemoScenario, mode: String, paths: DemoPaths, broker: any DemoBroker, signer: TPMSigner?
    ) async throws -> DemoOutcome {
        guard let signer else { throw DemoError("no TPM signer for \(scenario.agent)") }
        let expectedRejectedBy: RejectingComponent? =
            if case .rejected = scenario.expectation { mode == "enforce" ? .gateway : .collector } else { nil }
        let outcome: AgentOutcome
        if let tamper = scenario.tamper {
            let attacker = CompromisedAgent(agent: scenario.agent, signer: signer, broker: broker, logger: serviceLogger)
            switch try await attacker.send(tamper, location: scenario.location) {
            case .answered(let answer):
                outcome = answer
            case .refusedByBroker(let code):
                return DemoOutcome(
                    scenario: scenario, mode: mode, expectedRejectedBy: nil, observed: "refused by the broker (\(code))",
                    rejection: nil, passed: scenario.expectation == .refusedByBroker && broker.subscribeRefusals.contains(code))
            }
        } else {
            var configuration = try AgentConfiguration.load(
                file: paths.config("\(scenario.agent).yaml").path, environment: [:])
            configuration.spool.directory = paths.spool.appendingPathComponent("\(mode)/\(scenario.agent)").path
            let metrics = ServiceMetrics(component: "agent")
            let agent = try Agent(configuration: configuration, signer: signer, metrics: metrics, logger: serviceLogger)
            outcome = try await agent.runOnce()
            if scenario.name == DemoScenario.all[0].name, mode == Self.modes.last {
                // One run, no endpoint to scrape: the same exposition, from the agent's registry.
                let file = paths.metrics.appendingPathComponent("agent-\(scenario.agent).prom")
                try Data(await metrics.exposition()).write(to: file)
                say("\(scenario.agent): its metrics of one run in metrics/\(file.lastPathComponent) (a long-running agent serves them)")
            }
        }
        switch outcome {
        case .accepted:
            return DemoOutcome(
                scenario: scenario, mode: mode, expectedRejectedBy: expectedRejectedBy, observed: "accepted", rejection: nil,
                passed: scenario.expectation == .accepted)
        case .rejected(let rejection):
            let passed =
                scenario.expectation == .rejected(RejectionReason.all.first { $0.code == rejection.reasonCode } ?? .malformedEnvelope)
                && rejection.rejectedBy == expectedRejectedBy
            return DemoOutcome(
                scenario: scenario, mode: mode, expectedRejectedBy: expectedRejectedBy,
                observed: "rejected (\(rejection.reasonCode ?? "?"))", rejection: rejection, passed: passed)
        case .pendingInSpool:
            return DemoOutcome(
                scenario: scenario, mode: mode, expectedRejectedBy: expectedRejectedBy,
                observed: "no answer (kept in spool)", rejection: nil, passed: false)
        }
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
