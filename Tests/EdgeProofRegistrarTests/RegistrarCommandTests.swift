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
    @Test("edgeproof enroll exits 3 while the registrar leaves a verified enrollment pending (no book wired)")
    func enrollCommandReportsPendingWithExitCode3() async throws {
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
        await monitor.shutdown()
    }
}
