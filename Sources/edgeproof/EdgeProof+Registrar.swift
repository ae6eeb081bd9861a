import ArgumentParser
import EdgeProofRegistrar
import EdgeProofStorage
import EdgeProofService
import Foundation
import Logging

extension EdgeProof {
    struct Registrar: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "registrar",
            abstract: "Run a registrar: verify agents' TPM evidence (EK certificate, AK, certify, quote) and enroll them.",
            discussion: """
                edgeproof registrar --config registrar.yaml     runs until SIGTERM or SIGINT
                Make the token key file the registrars share with `edgeproof collector keygen --out registrar.keys`
                (a separate file from the collectors' nonce keys). See topics/README.md for the protocol.
                """
        )

        @Option(help: "Registrar configuration (YAML); environment variables override single keys.")
        var config: String

        func run() async throws {
            let registrar: ComposedService<EdgeProofRegistrar.Registrar>
            var logger = Logger(label: "edgeproof.registrar")
            do {
                let settings = try RegistrarConfiguration.load(file: config)
                logger.logLevel = settings.logLevel
                let allowlist = AllowlistFile(path: settings.allowlistFile)
                let book = EnrollmentBook(allowlist: allowlist, ledger: AttestationLedger(besideAllowlist: allowlist))
                registrar = try EdgeProofRegistrar.Registrar.compose(
                    configuration: settings, recorder: book, logger: logger)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            try await registrar.run(logger: logger)
        }
    }
}
