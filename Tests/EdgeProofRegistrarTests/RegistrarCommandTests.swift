import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofRegistrar
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
            spool:
              directory: \(rig.directory.appending("spool").path)
            enroll: auto

            """.utf8
        ).write(to: agentFile)

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
