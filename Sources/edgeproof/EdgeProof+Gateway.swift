import ArgumentParser
import EdgeProofGateway
import Logging
import ServiceLifecycle
import UnixSignals

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
            // The client first: the group stops services in reverse order, so the gateway publishes its
            // offline status before the client disconnects.
            let services: [any Service]
            do {
                let client = try EdgeProofGateway.Gateway.makeClient(configuration: settings, logger: logger)
                let gateway = try EdgeProofGateway.Gateway(configuration: settings, transport: client, logger: logger)
                services = [client, gateway] + (gateway.allowlistWatcher.map { [$0] } ?? [])
            } catch {
                throw CLIError("cannot start the gateway: \(error)")
            }
            let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        }
    }
}
