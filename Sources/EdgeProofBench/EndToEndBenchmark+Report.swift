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

    /// Off, on, off, on: the same load without and with operations (endpoints scraped every second, OTLP
    /// records), alternating so that the machine's drift hits both; the best round of each is compared.
    public func compareOperations(rounds: Int = 2) async throws {
        var results: [Bool: [Result]] = [false: [], true: []]
        for _ in 0..<rounds {
            for operations in [false, true] {
                var bench = self
                bench.operations = operations
                results[operations, default: []].append(try await bench.run())
            }
        }
        func best(_ on: Bool) -> Result? { results[on]?.max { $0.perSecond < $1.perSecond } }
        guard let off = best(false), let on = best(true) else { return }
        func ms(_ value: Double) -> String { String(format: "%.1f", value) }
        print("End to end, operations off and on: \(agents) agents x \(envelopesPerAgent) envelopes, best of \(rounds) rounds each")
        print(
            TextTable(
                header: ["OPERATIONS", "ENVELOPES/S", "HALF-RATE P50 MS", "HALF-RATE P99 MS", "ROUNDS (ENVELOPES/S)"],
                rows: [false, true].map { flag in
                    let result = flag ? on : off
                    return [
                        flag ? "on (/metrics scraped 1/s, OTLP records)" : "off", format(result.perSecond),
                        ms(result.p50Milliseconds), ms(result.p99Milliseconds),
                        (results[flag] ?? []).map { format($0.perSecond) }.joined(separator: ", "),
                    ]
                }
            ).rendered)
        print(
            try jsonLine([
                "e2e_per_s_operations_off": off.perSecond.rounded(), "e2e_per_s_operations_on": on.perSecond.rounded(),
                "operations_cost": ((1 - on.perSecond / off.perSecond) * 1000).rounded() / 1000,
                "e2e_p50_ms_operations_off": (off.p50Milliseconds * 10).rounded() / 10,
                "e2e_p50_ms_operations_on": (on.p50Milliseconds * 10).rounded() / 10,
            ]))
    }
}
