import ArgumentParser
import EdgeProofAgent
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

extension EdgeProof {
    struct Agent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "agent",
            abstract: "Run the edge agent: sample, sign with the TPM, publish, spool until receipted.",
            discussion: """
                The configuration file is YAML (see config/agent.yaml); environment variables override it: \
                EDGEPROOF_AGENT_NAME, GEOGRAPHIC_REGION, GEOGRAPHIC_STATE, GEOGRAPHIC_CITY, EDGEPROOF_TCTI, \
                EDGEPROOF_BROKER_HOST, EDGEPROOF_BROKER_PORT, LOG_LEVEL. With --once the agent sends one \
                envelope, prints the outcome and exits 0 if it was accepted, 1 otherwise.
                """
        )

        @Option(help: "The agent's YAML configuration file.")
        var config: String

        @Flag(help: "Send one envelope, wait for its receipt or rejection, print the outcome and exit.")
        var once = false

        func run() async throws {
            let configuration: AgentConfiguration
            do {
                configuration = try AgentConfiguration.load(file: config)
            } catch {
                throw CLIError("\(error)")
            }
            var logger = Logger(label: "edgeproof.agent")
            logger.logLevel = Logger.Level(configurationName: configuration.logLevel) ?? .info

            // libtss2 logs every failed step to stderr; the error below already says what failed.
            setenv("TSS2_LOG", "all+none", 0)
            let signer = try await openSigner(configuration, waitForTheTPM: !once, logger: logger)
            let agent: EdgeProofAgent.Agent
            do {
                agent = try EdgeProofAgent.Agent(configuration: configuration, signer: signer, logger: logger)
            } catch {
                throw CLIError("\(error)")
            }
            if once {
                let outcome = try await agent.runOnce()
                print(outcome)
                if case .accepted = outcome { return }
                throw ExitCode.failure
            }
            // [client, agent]: the group stops services in reverse order, so the agent spools what it sampled
            // and publishes its offline status before the client disconnects.
            let composed: ComposedService<AgentService>
            do {
                composed = try agent.composed()
            } catch {
                throw CLIError("\(error)")
            }
            try await composed.run(logger: logger)
        }

        /// The signing key through the configured TPM. A TPM that cannot be reached yet (swtpm or a
        /// resource manager still starting, a device that is resetting) is waited for with backoff when
        /// the agent runs as a service, saying so in the log; a missing or unusable key is an error at once.
        private func openSigner(_ configuration: AgentConfiguration, waitForTheTPM: Bool, logger: Logger) async throws
            -> TPMSigner
        {
            var delay = TPMDevice.reconnectBackoff.lowerBound
            while true {
                do {
                    let device = try TPMDevice(tcti: configuration.tpm.tcti)
                    let handle = try await signingKeyHandle(configuration.tpm.handle, on: device, logger: logger)
                    return try await TPMSigner(device: device, handle: handle)
                } catch where waitForTheTPM && (error.isUnavailable || error.isConnectionLost) {
                    logger.error(
                        "the TPM is unavailable; waiting for it before signing",
                        metadata: ["tcti": "\(configuration.tpm.tcti)", "error": "\(error)", "retry_in": "\(delay)"])
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, TPMDevice.reconnectBackoff.upperBound)
                } catch {
                    throw CLIError(
                        "cannot use the TPM signing key at \(configuration.tpm.handle ?? .defaultSigningKey) through \(configuration.tpm.tcti): "
                            + "\(error) (provision it with: edgeproof tpm provision --tcti … --handle …)")
                }
            }
        }

        /// The configured handle, else the default or an older install's legacy handle; a handle in a
        /// block the TCG registry reserves for primary keys is used as told, with a warning.
        private func signingKeyHandle(_ configured: PersistentHandle?, on device: TPMDevice, logger: Logger)
            async throws(TPMError) -> PersistentHandle
        {
            var handle = PersistentHandle.defaultSigningKey
            if let configured { handle = configured } else { handle = try await device.signingKeyHandleWhenUnconfigured() }
            if handle.isReservedForPrimaryKeys {
                logger.warning(
                    """
                    the signing key's handle is in a block the TCG registry reserves for primary keys (EK, SRK); \
                    it keeps working, and `edgeproof tpm provision` puts a new key at \(PersistentHandle.defaultSigningKey)
                    """,
                    metadata: ["handle": "\(handle)"])
            }
            return handle
        }
    }
}
