import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofOperations
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
    /// With `operations`, both also serve `/metrics` (on any free port) and ``OperationsScraper`` scrapes
    /// them every second as a Prometheus server would, and the collector also writes OTLP JSON records.
    static func collectorAndGateway(
        allowlist: Allowlist, gatewayMode: GatewayMode, work: TemporaryDirectory, broker: MosquittoBroker,
        operations: Bool = false, logger: Logger
    ) throws -> [any Service] {
        let metrics = operations ? "metrics: {listen: \"127.0.0.1:0\"}" : ""
        let otlp = operations ? "otlp: {directory: \(work.appending("otlp").path)}" : ""
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
            \(metrics)
            \(otlp)
            """.utf8
        ).write(to: collectorConfig)
        let gatewayConfig = work.appending("gateway.yaml")
        try Data(
            """
            id: gateway
            mode: \(gatewayMode.rawValue)
            \(broker.configurationSection(for: "gateway"))
            allowlist_file: \(allowlistPath)
            \(metrics)
            """.utf8
        ).write(to: gatewayConfig)

        let collector = try Collector.compose(
            configuration: try CollectorConfiguration.load(file: collectorConfig.path, environment: [:]),
            logger: logger)
        let gateway = try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: gatewayConfig.path, environment: [:]), logger: logger)
        let endpoints = (collector.helpers + gateway.helpers).compactMap { $0 as? OperationsEndpoint }
        let scraper: [any Service] = operations ? [OperationsScraper(endpoints: endpoints)] : []
        return collector.services + gateway.services + scraper
    }
}

/// Scrapes `/metrics` of each endpoint every `interval` while it runs, as a Prometheus server would, so that
/// a bench with operations on pays for the scrapes too.
struct OperationsScraper: Service {
    let endpoints: [OperationsEndpoint]
    var interval: Duration = .seconds(1)

    func run() async throws {
        var addresses: [String] = []
        for endpoint in endpoints { addresses.append(try await endpoint.waitUntilListening()) }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            for address in addresses { _ = try? await LocalHTTP.send(to: address, path: "/metrics") }
            try? await Task.sleep(for: interval)
        }
    }
}
