import EdgeProofOperations
import EdgeProofStorage
import Foundation
import ServiceLifecycle


/// Each long-running component of the demo serves `/metrics`, `/healthz` and `/readyz` (`metrics: {listen:}`
/// in its configuration). The demo prints the addresses and, before it stops a component, asks whether it is
/// ready and scrapes it once, keeping the scrape as `metrics/<component>-<id>.prom` in the work directory.
struct DemoOperations: Sendable {
    let paths: DemoPaths
    let say: @Sendable (String) -> Void

    /// The address of the operations endpoint among `services`, once it listens; printed.
    func announce(_ services: [any Service], component: String, id: String) async throws -> String? {
        guard let endpoint = services.lazy.compactMap({ $0 as? OperationsEndpoint }).first else { return nil }
        let address = try await endpoint.waitUntilListening()
        say("\(component) \(id): http://\(address)/metrics, /healthz, /readyz")
        return address
    }

    /// `/readyz` and `/metrics` of a running component; the row says what was found.
    func scrape(_ address: String?, component: String, id: String, mode: String) async -> DemoOutcome {
        let scenario = DemoScenario(
            name: "\(component) \(id): ready, /metrics scraped", agent: "-", location: DemoScenario.all[0].location,
            allowlisted: true, expectation: .scraped)
        func outcome(_ observed: String, passed: Bool) -> DemoOutcome {
            DemoOutcome(scenario: scenario, mode: mode, expectedRejectedBy: nil, observed: observed, rejection: nil, passed: passed)
        }
        guard let address else { return outcome("no metrics endpoint configured", passed: false) }
        do {
            let (readyStatus, readyBody) = try await Self.get(address, "/readyz")
            let (status, body) = try await Self.get(address, "/metrics")
            guard status == 200 else { return outcome("/metrics answered \(status)", passed: false) }
            let file = paths.metrics.appendingPathComponent("\(component)-\(id).prom")
            try Data(body.utf8).write(to: file)
            let series = body.split(separator: "\n").filter { !$0.hasPrefix("#") }.count
            let connected = body.contains("edgeproof_mqtt_connected{component=\"\(component)\"")
            let ready = readyStatus == 200
            return outcome(
                "\(ready ? "ready" : "not ready (\(readyBody.trimmingCharacters(in: .whitespacesAndNewlines)))"), "
                    + "\(series) series in metrics/\(file.lastPathComponent)",
                passed: ready && connected && series > 0)
        } catch {
            return outcome("cannot scrape \(address): \(error)", passed: false)
        }
    }

    /// collector-1's OTLP JSON output (`otlp/`): one line per stored record, each re-verified from the line alone.
    static func otlpOutcome(records: [RecordFileVerifier.Report], otlp: [RecordFileVerifier.Report]) -> DemoOutcome {
        let scenario = DemoScenario(
            name: "collector-1: accepted envelopes as OTLP JSON, re-verified", agent: "-",
            location: DemoScenario.all[0].location, allowlisted: true, expectation: .otlpRecords)
        let stored = records.reduce(0) { $0 + $1.records }
        let lines = otlp.reduce(0) { $0 + $1.records }
        let verified = otlp.reduce(0) { $0 + $1.verified }
        return DemoOutcome(
            scenario: scenario, mode: "operations", expectedRejectedBy: nil,
            observed: "\(lines) OTLP lines in \(otlp.count) file(s) of otlp/ for \(stored) records, \(verified) verified",
            rejection: nil, passed: stored > 0 && lines == stored && verified == lines)
    }

    static func get(_ address: String, _ path: String) async throws -> (Int, String) {
        let response = try await LocalHTTP.send(to: address, path: path)
        return (response.status, response.text)
    }
}
