import EdgeProofService
import FlyingFox
import FlyingSocks
import Foundation
import Logging
import ServiceLifecycle

/// A service's operations endpoint: `GET /metrics` (Prometheus text exposition), `GET /healthz` (the
/// process runs) and `GET /readyz` (200 when the component can work, 503 with the reason otherwise).
/// Runs as a helper of the component's `ServiceGroup`, so it starts after the component and stops first.
public final class OperationsEndpoint: Service, Sendable {
    public let settings: MetricsEndpointSettings
    private let server: HTTPServer
    private let logger: Logger

    /// - Parameters:
    ///   - metrics: the service's metrics, exposed at `/metrics`.
    ///   - readiness: asked at each `/readyz`.
    public init(
        settings: MetricsEndpointSettings, metrics: ServiceMetrics,
        readiness: @escaping @Sendable () -> Readiness, logger: Logger
    ) throws {
        self.settings = settings
        self.logger = logger
        let address: sockaddr_in
        do {
            address = try .inet(ip4: settings.host, port: UInt16(settings.port))
        } catch {
            throw ConfigurationError(key: "metrics.listen", problem: "\(settings.description): \(error)")
        }
        let handler = Routes(metrics: metrics, readiness: readiness)
        server = HTTPServer(address: address, timeout: 10, logger: ForwardingLogger(logger), handler: handler)
    }

    /// Where it listens once started (with port 0, the port the system chose).
    public var listeningAddress: String? {
        get async {
            guard case .ip4(let host, let port) = await server.listeningAddress else { return nil }
            return "\(host):\(port)"
        }
    }

    /// Waits until the endpoint accepts connections; its address.
    public func waitUntilListening(timeout: TimeInterval = 10) async throws -> String {
        try await server.waitUntilListening(timeout: timeout)
        return await listeningAddress ?? settings.description
    }

    public func run() async throws {
        try await server.runUntilGracefulShutdown(describedAs: "metrics on \(settings.description)")
    }

    struct Routes: HTTPHandler {
        let metrics: ServiceMetrics
        let readiness: @Sendable () -> Readiness

        func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
            guard request.method == .GET || request.method == .HEAD else {
                return Self.text(.methodNotAllowed, "only GET\n", headers: [.init("Allow"): "GET, HEAD"])
            }
            switch request.path {
            case "/metrics":
                return HTTPResponse(
                    statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: Data(await metrics.exposition()))
            case "/healthz":
                return Self.text(.ok, "ok\n")
            case "/readyz":
                switch readiness() {
                case .ready: return Self.text(.ok, "ready\n")
                case .notReady(let reason): return Self.text(.serviceUnavailable, "not ready: \(reason)\n")
                }
            default:
                return Self.text(.notFound, "no such endpoint: /metrics, /healthz and /readyz are served\n")
            }
        }

        static func text(_ status: HTTPStatusCode, _ body: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
            var headers = headers
            headers[.contentType] = "text/plain; charset=utf-8"
            return HTTPResponse(statusCode: status, headers: headers, body: Data(body.utf8))
        }
    }
}

public struct OperationsEndpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// FlyingFox's log lines into the service's logger, at debug level (a request per scrape is not news).
package struct ForwardingLogger: FlyingSocks.Logging {
    let logger: Logger
    package init(_ logger: Logger) { self.logger = logger }
    package func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    package func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    package func logWarning(_ warning: @autoclosure () -> String) { logger.debug("\(warning())") }
    package func logError(_ error: @autoclosure () -> String) { logger.notice("\(error())") }
    package func logCritical(_ critical: @autoclosure () -> String) { logger.error("\(critical())") }
}

extension HTTPServer {
    /// Serves until the service group shuts down gracefully. Cancelled rather than stopped: FlyingFox's stop()
    /// does nothing until run() has its socket, so a shutdown that came before that would leave the server
    /// (and its service group) running forever. What run() throws once cancelled is its socket closing.
    package func runUntilGracefulShutdown(describedAs what: String) async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.run() }
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled || error is CancellationError { return }
            throw OperationsEndpointError("cannot serve \(what): \(error)")
        }
    }
}
