import EdgeProofCore
import EdgeProofOperations
import EdgeProofService
import FlyingFox
import FlyingSocks
import Foundation
import Logging
import OTLPProto
import ServiceLifecycle
import SwiftProtobuf

/// What the agent says to samples offered by the receiver.
public enum OTLPAdmission: Sendable {
    /// Spooled: on the device's disk, to be signed and sent like the agent's own.
    case spooled
    /// No room now (the spool is full): the sender should retry after this many seconds.
    case busy(retryAfterSeconds: Int, reason: String)
}

/// The agent's OTLP/HTTP metrics intake (`otlp_receiver:`): `POST /v1/metrics` with an
/// `ExportMetricsServiceRequest`, protobuf (`application/x-protobuf`, what the OpenTelemetry SDKs' OTLP/HTTP
/// exporters send) or JSON (`application/json`), read with the official protobuf definitions. The points
/// become samples (``OTLPSamples``) that `admit` spools; only then is the answer 200.
///
/// The answers are OTLP/HTTP's: 200 with an `ExportMetricsServiceResponse` (a partial success names points
/// not taken), 400 with a `google.rpc.Status` for what cannot be read, 413 over `max_request_bytes`, 415 for
/// another media type or a content encoding, 503 with `Retry-After` when the spool has no room; in the
/// encoding of the request.
public final class OTLPReceiver: Service, Sendable {
    public let settings: OTLPReceiverSettings
    private let server: HTTPServer

    public init(
        settings: OTLPReceiverSettings, metrics: ServiceMetrics, logger: Logger,
        admit: @escaping @Sendable ([MetricSample]) async -> OTLPAdmission
    ) throws {
        self.settings = settings
        let address: sockaddr_in
        do {
            address = try .inet(ip4: settings.host, port: UInt16(settings.port))
        } catch {
            throw ConfigurationError(key: "otlp_receiver.listen", problem: "\(settings.description): \(error)")
        }
        server = HTTPServer(
            address: address, timeout: 15, logger: ForwardingLogger(logger),
            handler: Handler(maximumBytes: settings.maximumRequestBytes, metrics: metrics, logger: logger, admit: admit))
    }

    /// Waits until it accepts connections; its address (with port 0, the port the system chose).
    public func waitUntilListening(timeout: TimeInterval = 10) async throws -> String {
        try await server.waitUntilListening(timeout: timeout)
        guard case .ip4(let host, let port) = await server.listeningAddress else { return settings.description }
        return "\(host):\(port)"
    }

    public func run() async throws {
        try await server.runUntilGracefulShutdown(describedAs: "OTLP on \(settings.description)")
    }

    struct Handler: HTTPHandler {
        let maximumBytes: Int
        let metrics: ServiceMetrics
        let logger: Logger
        let admit: @Sendable ([MetricSample]) async -> OTLPAdmission

        enum Encoding {
            case protobuf
            case json

            var contentType: String { self == .protobuf ? "application/x-protobuf" : "application/json" }
        }

        func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
            guard request.path == "/v1/metrics" else {
                return Self.plain(.notFound, "no such endpoint: POST /v1/metrics takes OTLP metrics\n")
            }
            guard request.method == .POST else {
                return Self.plain(.methodNotAllowed, "POST only\n", headers: [.init("Allow"): "POST"])
            }
            let mediaType = (request.headers[.contentType] ?? "").split(separator: ";").first
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            let encoding: Encoding
            switch mediaType {
            case "application/x-protobuf": encoding = .protobuf
            case "application/json": encoding = .json
            default:
                return refuse(
                    .unsupportedMediaType, "unsupported_media_type",
                    "Content-Type \(mediaType.isEmpty ? "missing" : mediaType): send application/x-protobuf or application/json",
                    .json)
            }
            if let coding = request.headers[.init("Content-Encoding")], coding.lowercased() != "identity" {
                return refuse(
                    .unsupportedMediaType, "unsupported_media_type",
                    "Content-Encoding \(coding) is not supported: send the request uncompressed", encoding)
            }
            guard let body = try await readBody(request) else {
                return refuse(
                    .payloadTooLarge, "too_large", "the request is larger than max_request_bytes (\(maximumBytes))", encoding)
            }
            let export: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
            do {
                switch encoding {
                case .protobuf: export = try .init(serializedBytes: body)
                case .json: export = try .init(jsonUTF8Data: body)
                }
            } catch {
                return refuse(.badRequest, "malformed", "not an ExportMetricsServiceRequest: \(error)", encoding)
            }
            let converted = OTLPSamples(export, receivedAt: Date())
            if !converted.samples.isEmpty {
                switch await admit(converted.samples) {
                case .spooled:
                    metrics.count("otlp_points", by: converted.samples.reduce(0) { $0 + $1.values.count })
                case .busy(let seconds, let reason):
                    var response = refuse(
                        .serviceUnavailable, "spool_full", "\(reason); retry after \(seconds) s", encoding)
                    response.headers[.init("Retry-After")] = String(seconds)
                    return response
                }
            }
            var answer = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse()
            if converted.rejectedPoints > 0 {
                answer.partialSuccess.rejectedDataPoints = Int64(converted.rejectedPoints)
                answer.partialSuccess.errorMessage = converted.rejectionMessage ?? ""
            }
            return Self.message(.ok, answer, encoding)
        }

        /// The body, or nil once it is larger than `maximumBytes` (read no further).
        private func readBody(_ request: HTTPRequest) async throws -> Data? {
            if let count = request.bodySequence.count, count > maximumBytes { return nil }
            var body = Data()
            for try await chunk in request.bodySequence {
                body.append(chunk)
                if body.count > maximumBytes { return nil }
            }
            return body
        }

        private func refuse(_ status: HTTPStatusCode, _ reason: String, _ message: String, _ encoding: Encoding)
            -> HTTPResponse
        {
            metrics.count("otlp_refused.\(reason)")
            logger.notice("OTLP request refused", metadata: ["reason": "\(reason)", "error": "\(message)"])
            var answer = Google_Rpc_Status()
            // google.rpc.Code: INVALID_ARGUMENT 3, RESOURCE_EXHAUSTED 8, UNAVAILABLE 14.
            answer.code = status == .serviceUnavailable ? 14 : status == .payloadTooLarge ? 8 : 3
            answer.message = message
            return Self.message(status, answer, encoding)
        }

        static func message(_ status: HTTPStatusCode, _ message: some SwiftProtobuf.Message, _ encoding: Encoding)
            -> HTTPResponse
        {
            let body: Data
            switch encoding {
            case .protobuf: body = (try? message.serializedData()) ?? Data()
            case .json: body = (try? message.jsonUTF8Data()) ?? Data("{}".utf8)
            }
            return HTTPResponse(statusCode: status, headers: [.contentType: encoding.contentType], body: body)
        }

        static func plain(_ status: HTTPStatusCode, _ text: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
            var headers = headers
            headers[.contentType] = "text/plain; charset=utf-8"
            return HTTPResponse(statusCode: status, headers: headers, body: Data(text.utf8))
        }
    }
}

