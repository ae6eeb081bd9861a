import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofOTLP
import EdgeProofOTLPReceiver
import EdgeProofOperations
import EdgeProofService
import EdgeProofTesting
import Foundation
import OTLPProto
import ServiceLifecycle
import Testing


/// Issue 17, part 3: applications on the device send OTLP/HTTP metrics to the agent, which signs them with
/// its TPM key into its own envelopes.
@Suite("The agent's OTLP/HTTP intake", .serialized, .timeLimit(.minutes(4)))
struct OTLPIntakeTests {
    static let receiver = "otlp_receiver: {listen: \"127.0.0.1:0\", max_request_bytes: 65536}"

    static func receiverAddress(_ agent: ComposedServiceHelpers) async throws -> String {
        let receiver = try #require(agent.lazy.compactMap { $0 as? OTLPReceiver }.first, "no OTLP receiver")
        return try await receiver.waitUntilListening()
    }

    @Test("the OpenTelemetry Python SDK's OTLP/HTTP exporter sends a gauge and a counter; both arrive TPM-signed, unchanged, in the collector's records and its OTLP output")
    func sdkExportArrivesSigned() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1"])
        defer { system.close() }
        let otlpDirectory = system.directory.appending("otlp-collector-1").path
        let collector = try system.collector("collector-1", extra: "otlp: {directory: \(otlpDirectory)}")
        let gateway = try system.gateway()
        let agent = try system.agent("agent-001", sampleInterval: 2, extra: Self.receiver).composed()
        let running = RunningServices(collector.services + gateway.services + agent.services, logger: system.logger)
        let address = try await Self.receiverAddress(agent.helpers)

        let sentAt = Date()
        let sent = try await ProcessRunner.run(
            "/usr/bin/env", ["python3", PackagePaths.script("scripts/otlp-send.py"), "http://\(address)/v1/metrics",
                "--temperature", "21.5", "--requests", "42"])
        #expect(sent.status == 0, "otlp-send.py: \(sent.output) \(sent.standardError)")

        func otlpSamples() throws -> [MetricSample] {
            try system.records(of: "collector-1").flatMap(\.metrics.samples).filter { $0.metricType == OTLPSamples.metricType }
        }
        #expect(try await Poll.until(timeout: .seconds(30)) { !((try? otlpSamples()) ?? []).isEmpty }, "no otlp sample stored")
        let samples = try otlpSamples()
        #expect(samples.count == 1)
        #expect(samples.first?.values["app_temperature_celsius"] == .number(21.5))
        #expect(samples.first?.values["app_requests_total"] == .number(42))
        try await running.stop()

        // The same values in the collector's OTLP output: a gauge and a cumulative monotonic sum, at the time the SDK gave.
        let lines = try FileManager.default.contentsOfDirectory(atPath: otlpDirectory).flatMap { file in
            try String(contentsOfFile: "\(otlpDirectory)/\(file)", encoding: .utf8).split(separator: "\n")
        }
        let requests = try lines.map { try ExportMetricsServiceRequest(otlpJSON: Array($0.utf8)) }
        let metrics = requests.flatMap { $0.resourceMetrics.flatMap { $0.scopeMetrics.flatMap(\.metrics) } }
        guard case .gauge(let gauge)? = metrics.first(where: { $0.name == "app_temperature_celsius" })?.data,
            let temperature = gauge.dataPoints.first,
            case .sum(let requestsTotal)? = metrics.first(where: { $0.name == "app_requests_total" })?.data
        else {
            Issue.record("no gauge app_temperature_celsius and sum app_requests_total in the OTLP output")
            return
        }
        #expect(temperature.value == .asDouble(21.5))
        #expect(temperature.attributes["metric_type"]?.string == "otlp")
        #expect(requestsTotal.isMonotonic && requestsTotal.dataPoints.first?.value == .asDouble(42))
        // The time the SDK gave the point, kept to the nanosecond.
        let pointTime = Date(timeIntervalSince1970: Double(temperature.timeUnixNano) / 1e9)
        #expect(pointTime >= sentAt.addingTimeInterval(-1) && pointTime <= sentAt.addingTimeInterval(60), "\(pointTime)")
    }

    @Test("bad requests get OTLP/HTTP's answers: 400 with the reason, 413 over the limit, 415 for another media type or an encoding, 405, 404; a JSON request and a partial success are answered; none is signed")
    func badRequestsAreRefusedWithTheirAnswer() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1"])
        defer { system.close() }
        let agent = try system.agent("agent-001", sampleInterval: 60, extra: Self.receiver).composed()
        let running = RunningServices(agent.services, logger: system.logger)
        let address = try await Self.receiverAddress(agent.helpers)
        let url = address

        let garbage = try await Self.post(url, Data([0xFF, 0xFF, 0xFF, 0x01]), type: "application/x-protobuf")
        #expect(garbage.status == 400)
        let unknown = try await Self.post(url, Data(#"{"resourceMetrics":[],"surprise":1}"#.utf8))
        #expect(unknown.status == 400)
        #expect(unknown.body.contains("surprise") || unknown.body.contains("unknown"), "\(unknown.body)")
        #expect(unknown.body.contains(#""code":3"#), "a google.rpc.Status: \(unknown.body)")
        #expect(try await Self.post(url, Data(count: 70_000), type: "application/x-protobuf").status == 413)
        #expect(try await Self.post(url, Data("{}".utf8), type: "text/plain").status == 415)
        #expect(try await Self.post(url, Data("{}".utf8), extraHeaders: ["Content-Encoding": "gzip"]).status == 415)
        #expect(try await Self.get(url).status == 405)
        #expect(try await Self.post(address, Data("{}".utf8), path: "/v1/traces").status == 404)

        // A histogram is not signed: 200 with a partial success that says so; a gauge in JSON is taken.
        let histogram = #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"latency","histogram":{"dataPoints":[{"count":"1","bucketCounts":["1"]}],"aggregationTemporality":2}}]}]}]}"#
        let partial = try await Self.post(url, Data(histogram.utf8))
        #expect(partial.status == 200)
        #expect(partial.body.contains(#""rejectedDataPoints":"1""#), "\(partial.body)")
        let gauge = #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"fan_rpm","gauge":{"dataPoints":[{"asInt":"1200","timeUnixNano":"1796292000123456789","attributes":[{"key":"fan","value":{"stringValue":"a"}}]}]}}]}]}]}"#
        #expect(try await Self.post(url, Data(gauge.utf8)).status == 200)
        try await running.stop()

        let spooled = try FileManager.default.contentsOfDirectory(atPath: system.spoolDirectory("agent-001").path)
            .compactMap { try? String(contentsOfFile: system.spoolDirectory("agent-001").appendingPathComponent($0).path, encoding: .utf8) }
        #expect(spooled.contains { $0.contains(#"fan_rpm{fan=\"a\"}"#) && $0.contains("2026-12-03T10:00:00.123456789Z") }, "the gauge waits in the spool")
        #expect(!spooled.contains { $0.contains("latency") || $0.contains("surprise") })
    }

    @Test("a spool without room answers 503 with Retry-After and drops no earlier batch")
    func fullSpoolAsksToRetry() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1"])
        defer { system.close() }
        let agent = try system.agent(
            "agent-001", sampleInterval: 3, spoolMaximumBytes: 8_192, extra: Self.receiver
        )
        let composed = try agent.composed()
        let running = RunningServices(composed.services, logger: system.logger)
        let address = try await Self.receiverAddress(composed.helpers)
        let url = address
        // No collector runs: the agent's own first batch waits in the spool.
        #expect(try await Poll.until(timeout: .seconds(15)) { await agent.spooledCount() >= 1 })
        let spool = system.spoolDirectory("agent-001").path
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: spool))

        let points = (0..<400).map { #"{"asDouble":\#($0),"timeUnixNano":"1796292000000000000","attributes":[{"key":"n","value":{"intValue":"\#($0)"}}]}"# }
        let large = #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"big","gauge":{"dataPoints":[\#(points.joined(separator: ","))]}}]}]}]}"#
        let answer = try await Self.post(url, Data(large.utf8))
        #expect(answer.status == 503, "\(answer.body)")
        #expect(answer.retryAfter == "3")
        #expect(answer.body.contains("spool is full"), "\(answer.body)")
        let after = Set(try FileManager.default.contentsOfDirectory(atPath: spool))
        #expect(before.isSubset(of: after), "an earlier batch was dropped to make room")
        try await running.stop()
    }

    // MARK: - HTTP

    struct Answer {
        let status: Int
        let body: String
        let retryAfter: String?
    }

    static func post(
        _ address: String, _ body: Data, path: String = "/v1/metrics", type: String = "application/json",
        extraHeaders: [String: String] = [:]
    ) async throws -> Answer {
        try await answer(LocalHTTP.send("POST", to: address, path: path, body: body,
            headers: extraHeaders.merging(["Content-Type": type]) { old, _ in old }))
    }

    static func get(_ address: String) async throws -> Answer {
        try await answer(LocalHTTP.send(to: address, path: "/v1/metrics"))
    }

    static func answer(_ response: LocalHTTP.Response) -> Answer {
        Answer(status: response.status, body: response.text, retryAfter: response.headers["retry-after"])
    }
}

typealias ComposedServiceHelpers = [any ServiceLifecycle.Service]
