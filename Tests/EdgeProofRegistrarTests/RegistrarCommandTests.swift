import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofAgent
import EdgeProofRegistrar
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

/// The shipped commands: `edgeproof registrar` as a process of its own and `edgeproof enroll` against it.
@Suite("edgeproof registrar and edgeproof enroll")
struct RegistrarCommandTests {
    @Test("""
        the operator flow as processes: enroll exits 3 (pending), approve with the typed EK hash (a wrong one is \
        refused), enroll again exits 0 at tpm-ek-cert, and verify-evidence re-checks the entry offline
        """)
    func enrollPendingApproveAndVerifyEvidence() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let broker = try await MosquittoBroker.start(clients: ["registrar-1", EnrollmentRig.agent, "monitor"])
        defer { broker.close() }
        let configuration = try rig.configuration()
        let (registrarFile, agentFile) = try writeConfigurations(rig: rig, broker: broker, registrar: configuration)

        let logger = Logger(label: "test.registrar-command")
        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        let registrar = try ServiceProcess.start(
            "registrar", arguments: ["registrar", "--config", registrarFile.path], logDirectory: rig.directory.url)
        defer { _ = registrar.stop() }
        try await statuses.waitForOnline("registrar/registrar-1")
        let result = try await ProcessRunner.run(PackagePaths.edgeproofExecutable, ["enroll", "--config", agentFile.path])
        #expect(result.status == 3, "\(result.output)\n\(result.standardError)")
        #expect(result.output.contains("pending"), "\(result.output)")

        let edgeproof = PackagePaths.edgeproofExecutable
        let allowlist = configuration.allowlistFile
        let pending = try await ProcessRunner.run(edgeproof, ["allowlist", "pending", "--file", allowlist])
        #expect(pending.output.contains(EnrollmentRig.agent), "\(pending.output)")
        let ekHash = try await ProcessRunner.run(
            edgeproof, ["tpm", "ek", "--tcti", rig.tpm.tcti, "--format", "hash"]
        ).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let wrong = try await ProcessRunner.run(
            edgeproof,
            ["allowlist", "approve", "--file", allowlist, "--name", EnrollmentRig.agent, "--ek-hash",
             String(repeating: "0", count: 64)])
        #expect(wrong.status != 0)
        let approved = try await ProcessRunner.run(
            edgeproof, ["allowlist", "approve", "--file", allowlist, "--name", EnrollmentRig.agent, "--ek-hash", ekHash])
        #expect(approved.status == 0, "\(approved.output)\n\(approved.standardError)")

        let again = try await ProcessRunner.run(edgeproof, ["enroll", "--config", agentFile.path])
        #expect(again.status == 0, "\(again.output)\n\(again.standardError)")
        #expect(again.output.contains("tpm-ek-cert"), "\(again.output)")

        let audit = try await ProcessRunner.run(
            edgeproof,
            ["allowlist", "verify-evidence", "--file", allowlist, "--trust-store", configuration.trustStore ?? "",
             "--ek-certificates", configuration.ekCertificateDirectory])
        #expect(audit.status == 0, "\(audit.output)\n\(audit.standardError)")
        await monitor.shutdown()
    }
}

@Suite("edgeproof agent with enroll: auto")
struct AgentAutoEnrollmentTests {
    @Test("""
        the agent service enrolls at start and asks for no nonce while its enrollment is pending; once the \
        operator approves, its retry is approved and it starts sending
        """)
    func agentSendsNothingBeforeApproval() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let broker = try await MosquittoBroker.start(clients: ["registrar-1", EnrollmentRig.agent, "gateway", "monitor"])
        defer { broker.close() }
        let configuration = try rig.configuration()
        let (registrarFile, agentFile) = try writeConfigurations(
            rig: rig, broker: broker, registrar: configuration, agentExtra: "sample_interval_s: 0.5\n")

        let logger = Logger(label: "test.agent-auto-enroll")
        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        // The gateway's identity may read every agent's nonce requests: what the agent asks for shows here.
        let watcher = try MQTTClient(configuration: broker.clientConfiguration("gateway"), logger: logger)
        watcher.start()
        let inbox = Inbox(watcher)
        try await watcher.waitUntilConnected(timeout: .seconds(10))
        _ = try await watcher.subscribe(TopicTree().allAgentNonceRequests, qos: .atLeastOnce)

        let registrar = try ServiceProcess.start(
            "registrar", arguments: ["registrar", "--config", registrarFile.path], logDirectory: rig.directory.url)
        defer { _ = registrar.stop() }
        try await statuses.waitForOnline("registrar/registrar-1")
        let agent = try ServiceProcess.start(
            "agent", arguments: ["agent", "--config", agentFile.path], logDirectory: rig.directory.url)
        defer { _ = agent.stop() }

        // Pending: the enrollment book holds it, and the agent asks for no nonce meanwhile.
        let allowlist = AllowlistFile(path: configuration.allowlistFile)
        _ = try await Poll.until(timeout: .seconds(30)) {
            (try? allowlist.load().enrollment.pending(named: EnrollmentRig.agent)) != nil
        }
        try await Task.sleep(for: .seconds(3))
        #expect(inbox.messages.isEmpty, "the agent asked for nonces before approval")

        let book = EnrollmentBook(allowlist: allowlist, ledger: AttestationLedger(besideAllowlist: allowlist))
        _ = try book.approve(
            name: EnrollmentRig.agent, ekPublicHash: try await rig.enrollment.ekPublicHash(), places: nil,
            approvedBy: "operator:test", now: Date())
        // Its next attempt (backoff 2, 4, … s) is approved, and it starts asking for nonces.
        try await inbox.wait(timeout: .seconds(60)) { !$0.isEmpty }
        #expect(try allowlist.load().entry(named: EnrollmentRig.agent)?.trustLevel == .tpmEKCert)
        await watcher.shutdown()
        await monitor.shutdown()
    }
}

/// `registrar.yaml` for registrar-1 and `agent.yaml` (enroll: auto) for the rig's agent, against `broker`.
func writeConfigurations(
    rig: EnrollmentRig, broker: MosquittoBroker, registrar configuration: RegistrarConfiguration, agentExtra: String = ""
) throws -> (registrar: URL, agent: URL) {
    let registrarFile = rig.directory.appending("registrar.yaml")
    try Data(
        """
        id: registrar-1
        \(broker.configurationSection(for: "registrar-1"))
        allowlist_file: \(configuration.allowlistFile)
        trust_store: \(configuration.trustStore ?? "")
        ek_certificate_dir: \(configuration.ekCertificateDirectory)
        token_key_file: \(configuration.tokenKeyFile)

        """.utf8
    ).write(to: registrarFile)
    let agentFile = rig.directory.appending("agent.yaml")
    try Data(
        """
        name: \(EnrollmentRig.agent)
        \(broker.configurationSection(for: EnrollmentRig.agent))
        tpm:
          tcti: \(rig.tpm.tcti)
          handle: \(EnrollmentRig.signingHandle)
          attestation_key_handle: \(EnrollmentRig.attestationHandle)
        location: US/California/Santa Clara
        \(agentExtra)spool:
          directory: \(rig.directory.appending("spool").path)
        enroll: auto

        """.utf8
    ).write(to: agentFile)
    return (registrarFile, agentFile)
}
