import EdgeProofAgent
import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofMQTT
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
    private let say: @Sendable (String) -> Void
    private let serviceLogger: Logger

    public static let modes = ["passthrough", "enforce"]

    public init(workdir: URL, say: @escaping @Sendable (String) -> Void) {
        self.workdir = workdir
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

        let agents = DemoScenario.all.map(\.agent)
        let broker = try await MosquittoBroker.start(
            clients: ["gateway", "collector-1", "monitor"] + agents, directory: TemporaryDirectory(at: paths.broker))
        say("started mosquitto (pid \(broker.pid.map(String.init) ?? "?")) on 127.0.0.1:\(broker.port), mutual TLS, ACL")
        var tpms: [SoftwareTPM] = []
        defer {
            tpms.forEach { $0.stop() }
            broker.stop()
            say("stopped mosquitto and \(tpms.count) swtpm instances")
        }

        // Each agent is its own device with its own TPM and a sign-only key that never leaves it.
        var signers: [String: TPMSigner] = [:]
        var devices: [String: SoftwareTPM] = [:]
        var allowlist = Allowlist()
        for scenario in DemoScenario.all {
            let tpm = try await SoftwareTPM.start()
            tpms.append(tpm)
            devices[scenario.agent] = tpm
            let device = try TPMDevice(tcti: tpm.tcti)
            let key = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            signers[scenario.agent] = try await TPMSigner(device: device, handle: .defaultSigningKey)
            say("\(scenario.agent): swtpm \(tpm.tcti), ECC P-256 key at \(key.handle), tpm_public_key_hash \(key.publicKey.hash.hex.prefix(16))…")
            if scenario.allowlisted {
                try allowlist.add(
                    AllowlistEntry(
                        name: scenario.agent, key: key.publicKey, createdAt: Timestamp.string(from: Date()),
                        allowedPlaces: DemoScenario.allowedPlaces))
            }
        }
        try AllowlistFile(url: paths.allowlist).save(allowlist)
        try NonceKeyFile.generate(at: paths.nonceKeys)
        say("allowlist \(paths.allowlist.path): \(allowlist.entries.map(\.name).joined(separator: ", ")) (allowed places \(DemoScenario.allowedPlaces.map(\.description).joined(separator: ", ")))")

        let configs = DemoConfigurations(paths: paths, broker: broker)
        try configs.write(agents: DemoScenario.all)

        let (monitor, statuses) = try await broker.statusMonitor(logger: serviceLogger)

        let collector = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: paths.config("collector.yaml").path, environment: [:]),
            logger: serviceLogger)
        let collectorGroup = ServiceGroup(services: collector.services, logger: serviceLogger)
        var outcomes: [DemoOutcome] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await collectorGroup.run() }
            try await statuses.waitForOnline("collector/collector-1")
            say("started collector-1 (records in \(paths.records.path))")

            for mode in Self.modes {
                let since = Date()
                let gateway = try Gateway.compose(
                    configuration: try GatewayConfiguration.load(file: paths.config("gateway-\(mode).yaml").path, environment: [:]),
                    logger: serviceLogger)
                let gatewayGroup = ServiceGroup(services: gateway.services, logger: serviceLogger)
                group.addTask { try await gatewayGroup.run() }
                try await statuses.waitForOnline("gateway/gateway", after: since)
                say("started gateway in \(mode) mode")
                for scenario in DemoScenario.all + DemoScenario.attacks + DemoScenario.faults {
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
                await gatewayGroup.triggerGracefulShutdown()
                try await statuses.waitForOffline("gateway/gateway", after: since)
                say("stopped gateway (\(mode))")
            }
            await collectorGroup.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        await monitor.shutdown()
        say("stopped collector-1")

        let records = try FileManager.default.contentsOfDirectory(at: paths.records, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "jsonl" }.sorted { $0.path < $1.path }
        let verifier = RecordFileVerifier(allowlist: allowlist)
        let verification = try records.map { url throws(StorageError) in try verifier.verify(file: url) }
        return Report(outcomes: outcomes, recordsDirectory: paths.records, verification: verification)
    }

    private func run(
        _ scenario: DemoScenario, mode: String, paths: DemoPaths, broker: MosquittoBroker, signer: TPMSigner?
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
                    rejection: nil, passed: scenario.expectation == .refusedByBroker && code == 135)
            }
        } else {
            var configuration = try AgentConfiguration.load(
                file: paths.config("\(scenario.agent).yaml").path, environment: [:])
            configuration.spool.directory = paths.spool.appendingPathComponent("\(mode)/\(scenario.agent)").path
            let agent = try Agent(configuration: configuration, signer: signer, logger: serviceLogger)
            outcome = try await agent.runOnce()
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
