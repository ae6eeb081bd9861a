import EdgeProofService
import Foundation

extension EndToEndBenchmark {
    /// Runs the benchmark and prints the phases and the figures.
    public func runAndPrint() async throws {
        let result = try await run()
        print(
            "End to end: \(agents) agents x \(envelopesPerAgent) envelopes of \(result.envelopeBytes) bytes per phase")
        func ms(_ value: Double) -> String { String(format: "%.1f", value) }
        print(
            TextTable(
                header: ["PHASE", "ENVELOPES/S", "P50 MS", "P99 MS"],
                rows: [
                    [
                        "saturated (\(inFlightPerAgent) in flight per agent)", format(result.perSecond),
                        ms(result.saturatedP50Milliseconds), ms(result.saturatedP99Milliseconds),
                    ],
                    [
                        "half the maximum rate", format(result.halfRatePerSecond), ms(result.p50Milliseconds),
                        ms(result.p99Milliseconds),
                    ],
                    ["bare MQTT, two hops, same size", format(result.transportPerSecond), "", ""],
                ]
            ).rendered)
        print(
            try jsonLine([
                "e2e_per_s": result.perSecond.rounded(), "e2e_p50_ms": (result.p50Milliseconds * 10).rounded() / 10,
                "e2e_p99_ms": (result.p99Milliseconds * 10).rounded() / 10,
                "e2e_saturated_p99_ms": (result.saturatedP99Milliseconds * 10).rounded() / 10,
                "e2e_half_rate_per_s": result.halfRatePerSecond.rounded(),
                "transport_per_s": result.transportPerSecond.rounded(),
                "e2e_ratio": (result.ratio * 1000).rounded() / 1000, "envelopes": Double(result.envelopes),
            ]))
    }
}
