import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging
import ServiceLifecycle

/// The collector (`collector-1`) and the gateway a bench runs in this process on its local broker: the
/// allowlist and a fresh nonce key file saved in `work`, YAML configurations written there and loaded
/// and composed as `edgeproof collector|gateway` do.
enum BenchServices {
    /// The services of both, each client before its component, for one `ServiceGroup`.
    static func collectorAndGateway(
        allowlist: Allowlist, gatewayMode: GatewayMode, work: TemporaryDirectory, broker: MosquittoBroker,
        logger: Logger
    ) throws -> [any Service] {
        let allowlistPath = work.appending("allowlist.yaml").path
        try AllowlistFile(path: allowlistPath).save(allowlist)
        let nonceKeys = work.appending("nonce.keys")
        try NonceKeyFile.generate(at: nonceKeys)

        let collectorConfig = work.appending("collector.yaml")
        try Data(
            """
            id: collector-1
            \(broker.configurationSection(for: "collector-1"))
            allowlist_file: \(allowlistPath)
            nonce_key_file: \(nonceKeys.path)
            records:
              directory: \(work.appending("records").path)
            """.utf8
        ).write(to: collectorConfig)
        let gatewayConfig = work.appending("gateway.yaml")
        try Data(
            """
            id: gateway
            mode: \(gatewayMode.rawValue)
            \(broker.configurationSection(for: "gateway"))
            allowlist_file: \(allowlistPath)
            """.utf8
        ).write(to: gatewayConfig)

        let collector = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: collectorConfig.path, environment: [:]),
            logger: logger)
        let gateway = try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: gatewayConfig.path, environment: [:]), logger: logger)
        return collector.services + gateway.services
    }
}
