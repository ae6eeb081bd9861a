import ArgumentParser
import EdgeProofAgent
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofTPM
import Foundation
import Logging

extension EdgeProof {
    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll",
            abstract: "Enroll this agent with a registrar: prove its signing key lives in this TPM.",
            discussion: """
                Reads the EK certificate, provisions the attestation key (tpm.attestation_key_handle, default \
                0x81020011), and runs the two round trips with a registrar over the broker. Exit status: 0 \
                approved, 3 pending (an operator must approve), 1 refused (the rejection is printed) or failed. \
                With --wait, a pending enrollment is repeated every few seconds until approved or refused.
                """
        )

        @Option(help: "The agent's YAML configuration file.")
        var config: String

        @Flag(help: "Re-enroll every few seconds while pending, until approved or refused.")
        var wait = false

        @Option(help: "Seconds between attempts with --wait.")
        var interval: Double = 5

        static let pendingExitCode: Int32 = 3

        func run() async throws {
            let configuration: AgentConfiguration
            do {
                configuration = try AgentConfiguration.load(file: config)
            } catch {
                throw CLIError("\(error)")
            }
            var logger = Logger(label: "edgeproof.enroll")
            logger.logLevel = Logger.Level(configurationName: configuration.logLevel) ?? .info
            setenv("TSS2_LOG", "all+none", 0)
            let client = try MQTTClient(
                configuration: configuration.broker.clientConfiguration(clientID: configuration.name), logger: logger)
            client.start()
            let topics = TopicTree(prefix: configuration.broker.topicPrefix)
            let device = try TPMDevice(tcti: configuration.tpm.tcti)
            // Unconfigured: the default handle, or an older install's legacy one (as `edgeproof agent` resolves it).
            var signingKey = PersistentHandle.defaultSigningKey
            if let configured = configuration.tpm.handle {
                signingKey = configured
            } else {
                signingKey = try await device.signingKeyHandleWhenUnconfigured()
            }
            let enrollment = AgentEnrollment(
                agent: configuration.name, device: device, signingKey: signingKey,
                attestationKey: configuration.enrollment.attestationKeyHandle,
                requestedPlaces: [AllowedPlace(
                    region: configuration.location.region, state: configuration.location.state,
                    city: configuration.location.city)])
            let exchange = AgentEnrollment.exchange(
                over: client, topics: topics, agent: configuration.name, timeout: .seconds(30))
            let code = await enroll(enrollment, exchange: exchange, client: client)
            await client.shutdown()
            if code != 0 { throw ExitCode(code) }
        }

        /// Runs the enrollment (again while pending with --wait); the exit status.
        private func enroll(
            _ enrollment: AgentEnrollment, exchange: AgentEnrollment.Exchange, client: MQTTClient
        ) async -> Int32 {
            while true {
                let result: EnrollmentResult
                do {
                    try await client.waitUntilConnected(timeout: .seconds(30))
                    result = try await enrollment.run(exchange)
                } catch {
                    FileHandle.standardError.write(Data("error: enrollment failed: \(error)\n".utf8))
                    return 1
                }
                switch result.status {
                case .approved:
                    print("approved at \(result.trustLevel?.rawValue ?? "?")")
                    return 0
                case .refused:
                    let rejection = (try? result.rejection?.jsonData()).map { String(decoding: $0, as: UTF8.self) }
                    print("refused: \(rejection ?? "no rejection given")")
                    return 1
                case .pending:
                    print("pending: \(result.message ?? "waiting for an operator")")
                    guard wait else { return Self.pendingExitCode }
                    try? await Task.sleep(for: .seconds(interval))
                }
            }
        }
    }
}
