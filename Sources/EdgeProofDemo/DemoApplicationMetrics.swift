import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofOTLPReceiver
import EdgeProofService
import EdgeProofTPM
import Foundation

/// agent-001 with `otlp_receiver:` on a free port of 127.0.0.1; `scripts/otlp-send.py`, an application using the
/// OpenTelemetry Python SDK and its own OTLP/HTTP exporter, sends it a gauge and a counter; the row passes when
/// both values are in a record of collector-1, signed by agent-001's TPM key.
extension DemoRunner {
    static let applicationValues: [(name: String, value: Double)] = [("app_temperature_celsius", 21.5), ("app_requests_total", 42)]

    func runApplicationMetrics(paths: DemoPaths, signer: TPMSigner?) async throws -> DemoOutcome {
        let scenario = DemoScenario.applicationMetrics
        func outcome(_ observed: String, passed: Bool) -> DemoOutcome {
            DemoOutcome(scenario: scenario, mode: "otlp", expectedRejectedBy: nil, observed: observed, rejection: nil, passed: passed)
        }
        guard let signer else { throw DemoError("no TPM signer for \(scenario.agent)") }
        var configuration = try AgentConfiguration.load(file: paths.config("\(scenario.agent).yaml").path, environment: [:])
        configuration.otlpReceiver = OTLPReceiverSettings(port: 0)
        configuration.metricsEndpoint = nil
        // One tick of its own (one record) while it runs; the application's points make the other.
        configuration.sampleInterval = 3600
        configuration.spool.directory = paths.spool.appendingPathComponent("otlp/\(scenario.agent)").path
        let agent = try Agent(configuration: configuration, signer: signer, logger: serviceLogger)
        let composed = try agent.composed()
        guard let receiver = composed.helpers.lazy.compactMap({ $0 as? OTLPReceiver }).first else {
            throw DemoError("agent-001 has no OTLP receiver")
        }
        let running = composed.start(logger: serviceLogger)
        let result: DemoOutcome
        do {
            let address = try await receiver.waitUntilListening()
            say("\(scenario.agent): otlp_receiver on http://\(address)/v1/metrics; an OpenTelemetry SDK application exports to it")
            let arguments = ["python3", PackagePaths.script("scripts/otlp-send.py"), "http://\(address)/v1/metrics"]
                + ["--temperature", "21.5", "--requests", "42"]
            let sent = try await ProcessRunner.run("/usr/bin/env", arguments)
            if sent.status != 0 {
                result = outcome(
                    "the SDK's export failed: \(sent.output)\(sent.standardError.suffix(300)) (scripts/install-deps.sh installs the SDK)",
                    passed: false)
            } else if let record = try await Self.applicationRecord(in: paths.records, within: .seconds(30)) {
                let values = Self.applicationValues.map { name, _ in
                    if case .number(let value)? = record.sample.values[name] { "\(name) \(String(format: "%g", value))" } else { "\(name) missing" }
                }
                let unchanged = Self.applicationValues.allSatisfy { record.sample.values[$0.name] == .number($0.value) }
                result = outcome(
                    "\(values.joined(separator: ", ")), signed by \(scenario.agent)'s TPM key (kid \(record.kid.hex.prefix(12))…), "
                        + "stored by \(record.collector)",
                    passed: unchanged && record.trustLevel == .tpmEKCert)
            } else {
                result = outcome("no record with the application's sample within 30 s", passed: false)
            }
        } catch {
            try? await running.stop()
            throw error
        }
        try await running.stop()
        return result
    }

    /// The first stored record holding an `otlp` sample, waited for up to `timeout`.
    private static func applicationRecord(in directory: URL, within timeout: Duration) async throws
        -> (sample: MetricSample, kid: PublicKeyHash, collector: String, trustLevel: TrustLevel?)?
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for file in try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            where file.lastPathComponent.hasPrefix("records-") {
                for line in try Data(contentsOf: file).split(separator: UInt8(ascii: "\n")) {
                    guard let record = try? StoredRecord(strictJSON: line) else { continue }
                    if let sample = record.metrics.samples.first(where: { $0.metricType == OTLPSamples.metricType }) {
                        return (sample, record.kid, record.collector, record.trustLevel)
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }
}
