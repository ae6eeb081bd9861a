import ArgumentParser
import EdgeProofGateway
import EdgeProofService
import Logging

extension EdgeProof {
    struct Gateway: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run the gateway: republish agent traffic to the verified topics, enforcing policy in enforce mode.",
            discussion: """
                Modes: passthrough (default; the collector checks everything) and enforce (the gateway checks allowlist, key hash, signature, geography, timestamp and properties first, and tells agents why it rejected).

                Settings come from the YAML file (see config/gateway.yaml); GATEWAY_MODE, EDGEPROOF_BROKER_HOST, EDGEPROOF_BROKER_PORT, EDGEPROOF_TOPIC_PREFIX, EDGEPROOF_ALLOWLIST and LOG_LEVEL override it.

                SIGTERM or SIGINT stop the gateway gracefully; SIGHUP reloads the allowlist.
                """
        )

        @Option(name: .long, help: "Gateway configuration file (YAML).")
        var config: String

        func run() async throws {
            let settings: GatewayConfiguration
            do {
                settings = try GatewayConfiguration.load(file: config)
            } catch {
                throw CLIError("\(error)")
            }
            var logger = Logger(label: "edgeproof.gateway")
            logger.logLevel = settings.logLevel
            let gateway: ComposedService<EdgeProofGateway.Gateway>
            do {
                gateway = try EdgeProofGateway.Gateway.compose(configuration: settings, logger: logger)
            } catch {
                throw CLIError("cannot start the gateway: \(error)")
            }
            try await gateway.run(logger: logger)
        }
    }
}
