import EdgeProofAgent
import EdgeProofCollector
import EdgeProofGateway
import EdgeProofOperations
import EdgeProofService
import EdgeProofTesting
import Foundation
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing


@Suite("Operations endpoints: /metrics, /healthz, /readyz", .serialized, .timeLimit(.minutes(5)))
struct OperationsEndpointTests {
    /// Any free port: the endpoint says which it got.
    static let anyPort = "metrics: {listen: \"127.0.0.1:0\"}"

    @Test("agent, gateway and collector each serve /metrics that promtool accepts, with the figures operators expect and no agent label; /readyz is 503 with the reason once the broker is gone")
    func everyServiceServesMetricsAndHealth() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1"])
        defer { system.close() }
        let collector = try system.collector("collector-1", extra: Self.anyPort)
        let gateway = try system.gateway(extra: Self.anyPort)
        let agent = try system.agent("agent-001", sampleInterval: 0.5, extra: Self.anyPort).composed()
        let endpoints = [
            ("collector", Self.endpoint(in: collector.helpers)), ("gateway", Self.endpoint(in: gateway.helpers)),
            ("agent", Self.endpoint(in: agent.helpers)),
        ]
        let running = RunningServices(collector.services + gateway.services + agent.services, logger: system.logger)
        var addresses: [String: String] = [:]
        for (name, endpoint) in endpoints {
            addresses[name] = try await #require(endpoint).waitUntilListening()
        }
        #expect(try await Poll.until { (try? system.records(of: "collector-1").count ?? 0) ?? 0 >= 2 }, "envelopes stored")

        for (name, address) in addresses {
            #expect(try await Self.get(address, "/healthz") == (200, "ok\n"), "\(name)")
            #expect(try await Poll.until { try await Self.get(address, "/readyz").status == 200 }, "\(name) ready")
            let (status, body) = try await Self.get(address, "/metrics")
            #expect(status == 200)
            try Self.expectPromtoolAccepts(body, name)
            #expect(!body.contains("agent-001"), "\(name): no series names an agent")
            #expect(!body.contains("no description yet"), "\(name): every family has its help text")
            #expect(body.contains("edgeproof_mqtt_connected{component=\"\(name)\""), "\(name)")
            #expect(try await Self.get(address, "/nope").status == 404)
        }
        let collectorMetrics = try await Self.get(try #require(addresses["collector"]), "/metrics").body
        #expect(Self.value(of: "edgeproof_envelopes_accepted_total{component=\"collector\"}", in: collectorMetrics) ?? 0 >= 2)
        #expect(Self.value(of: "edgeproof_nonces_issued_total{component=\"collector\"}", in: collectorMetrics) ?? 0 >= 2)
        #expect(Self.value(of: "edgeproof_records_fsync_duration_seconds_count{component=\"collector\"}", in: collectorMetrics) ?? 0 >= 1)
        #expect(Self.value(of: "edgeproof_records_files{component=\"collector\"}", in: collectorMetrics) ?? 0 >= 1)
        let agentMetrics = try await Self.get(try #require(addresses["agent"]), "/metrics").body
        #expect(Self.value(of: "edgeproof_tpm_sign_duration_seconds_count{component=\"agent\"}", in: agentMetrics) ?? 0 >= 2)
        #expect(Self.value(of: "edgeproof_receipt_duration_seconds_count{component=\"agent\"}", in: agentMetrics) ?? 0 >= 2)
        #expect(Self.value(of: "edgeproof_nonce_request_duration_seconds_count{component=\"agent\"}", in: agentMetrics) ?? 0 >= 2)
        #expect(agentMetrics.contains("edgeproof_spool_envelopes{component=\"agent\"}"))
        let gatewayMetrics = try await Self.get(try #require(addresses["gateway"]), "/metrics").body
        #expect(Self.value(of: "edgeproof_envelopes_forwarded_total{component=\"gateway\"}", in: gatewayMetrics) ?? 0 >= 2)

        // The broker goes away: every service says it cannot work, and why; the process still runs.
        system.broker.kill()
        for (name, address) in addresses {
            #expect(try await Poll.until { try await Self.get(address, "/readyz").status == 503 }, "\(name) not ready")
            #expect(try await Self.get(address, "/readyz").body.contains("not connected"), "\(name)")
            #expect(try await Self.get(address, "/healthz").status == 200)
            let metrics = try await Self.get(address, "/metrics").body
            #expect(Self.value(of: "edgeproof_mqtt_connected{component=\"\(name)\"", in: metrics) == 0, "\(name)")
        }
        try await running.stop()
    }

    @Test("a rejection is counted by validation type and reason; a reason nobody defined is `other`, so series stay bounded")
    func rejectionsAreCountedByTypeAndReason() async throws {
        let metrics = ServiceMetrics(component: "collector")
        metrics.count("rejected")
        metrics.count("rejected.nonce_replayed")
        metrics.count("rejected.made_up_by_someone")
        let body = String(decoding: await metrics.exposition(), as: UTF8.self)
        #expect(body.contains("# TYPE edgeproof_rejections_total counter"))
        #expect(body.contains(#"edgeproof_rejections_total{component="collector",validation_type="nonce_validation",reason="nonce_replayed"} 1"#))
        #expect(body.contains(#"edgeproof_rejections_total{component="collector",validation_type="other",reason="other"} 1"#))
        #expect(!body.contains(#"edgeproof_rejections_total{component="collector"} "#), "the plain total would count twice")
        #expect(metrics.snapshot["rejected"] == 1, "the status keeps its total")
        try Self.expectPromtoolAccepts(body, "collector")
    }

    @Test("shut down before it listens, as it starts, or with a scraper's connection open, the endpoint ends within seconds")
    func endsWhenShutDownAtAnyMoment() async throws {
        // Delay nil: the shutdown is under way before run() is called (a group stopping as it starts).
        for delay in [nil, Duration.zero, .milliseconds(2), .milliseconds(20), .milliseconds(500)] {
            let endpoint = try OperationsEndpoint(
                settings: MetricsEndpointSettings(port: 0), metrics: ServiceMetrics(component: "collector"),
                readiness: { .ready }, logger: Logger(label: "edgeproof.test.operations"))
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Bool.self) { tasks in
                    if delay == nil { trigger.triggerGracefulShutdown() }
                    tasks.addTask {
                        try await endpoint.run()
                        return true
                    }
                    tasks.addTask {
                        try await Task.sleep(for: .seconds(10))
                        return false
                    }
                    if let delay {
                        try await Task.sleep(for: delay)
                        if delay >= .milliseconds(500) {
                            // A scrape leaves its keep-alive connection open.
                            let address = try await endpoint.waitUntilListening()
                            #expect(try await Self.get(address, "/healthz").status == 200)
                        }
                        trigger.triggerGracefulShutdown()
                    }
                    let ended = try await tasks.next() ?? false
                    #expect(ended, "the endpoint still ran 10 s after a graceful shutdown (\(String(describing: delay)) after starting)")
                    tasks.cancelAll()
                }
            }
        }
    }

    // MARK: - Helpers

    static func endpoint(in services: [any Service]) -> OperationsEndpoint? {
        services.lazy.compactMap { $0 as? OperationsEndpoint }.first
    }

    static func get(_ address: String, _ path: String) async throws -> (status: Int, body: String) {
        let response = try await LocalHTTP.send(to: address, path: path)
        return (response.status, response.text)
    }

    /// The value of the first sample line starting with `series`.
    static func value(of series: String, in body: String) -> Double? {
        body.split(separator: "\n").first { $0.hasPrefix(series) }.flatMap { line in
            line.split(separator: " ").last.flatMap { Double($0) }
        }
    }

    /// `promtool check metrics` (Debian's prometheus package) lints the exposition: types, help, names, units.
    static func expectPromtoolAccepts(_ body: String, _ name: String) throws {
        let input = Pipe()
        let output = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        process.arguments = ["check", "metrics"]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            Issue.record("promtool not found (scripts/install-deps.sh installs Debian's prometheus package): \(error)")
            return
        }
        input.fileHandleForWriting.write(Data(body.utf8))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool on \(name)'s /metrics: \(said)")
    }
}
