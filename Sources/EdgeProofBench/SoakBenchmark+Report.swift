import EdgeProofService
import Foundation

extension SoakBenchmark {
    /// Runs the soak, printing a line per sample as it goes, then the growth table and the figures.
    public func runAndPrint() async throws {
        let source: String
        switch load {
        case .agent: source = "the agent (swtpm)"
        case .softwareKeys(let senders, let lanes): source = "\(senders) software-key senders x \(lanes) lanes"
        }
        // Unbuffered, so that progress shows as it comes when the output goes to a file.
        let say: @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
        say(
            "Soak: \(String(format: "%.0f", duration)) s at about \(String(format: "%.0f", rate)) envelopes/s from "
                + "\(source), nonce lifetime \(nonceLifetime) s, "
                + "warm-up \(String(format: "%.0f", warmUp)) s")
        var run = self
        run.progress = say
        let result = try await run.run()

        var figures: [String: Double] = [
            "duration_s": result.seconds.rounded(), "warm_up_s": warmUp, "rate_target": rate,
            "nonce_lifetime_s": Double(nonceLifetime), "envelopes_stored": Double(result.stored),
            "distinct_nonces": Double(result.distinctNonces), "agent_published": Double(result.published),
            "agent_accepted": Double(result.accepted),
            "stored_per_s": (result.storedPerSecond * 10).rounded() / 10,
        ]
        var rows: [[String]] = []
        func rounded(_ value: Double, _ places: Double = 100) -> Double { (value * places).rounded() / places }
        for name in SoakBenchmark.components {
            guard let growth = result.growth[name] else { continue }
            figures["\(name)_rss_start_mb"] = rounded(growth.startMegabytes, 10)
            figures["\(name)_rss_end_mb"] = rounded(growth.endMegabytes, 10)
            figures["\(name)_rss_peak_mb"] = rounded(growth.peakMegabytes, 10)
            figures["\(name)_growth_mb_per_min"] = rounded(growth.megabytesPerMinute, 1000)
            figures["\(name)_growth_mb_per_10k_envelopes"] = rounded(growth.megabytesPer10kEnvelopes, 1000)
            rows.append([
                name, String(format: "%.1f", growth.startMegabytes), String(format: "%.1f", growth.endMegabytes),
                String(format: "%.1f", growth.peakMegabytes), String(format: "%.3f", growth.megabytesPerMinute),
                String(format: "%.3f", growth.megabytesPer10kEnvelopes),
            ])
        }
        print(
            "\(result.stored) records (\(result.distinctNonces) distinct nonces), "
                + "\(String(format: "%.1f", result.storedPerSecond)) stored/s after the warm-up")
        print(
            TextTable(
                header: ["COMPONENT", "RSS START MB", "RSS END MB", "PEAK MB", "MB/MIN", "MB/10K ENVELOPES"],
                rows: rows
            ).rendered)
        print(try jsonLine(figures))
    }
}
