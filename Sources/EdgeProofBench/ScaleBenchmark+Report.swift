import EdgeProofService
import Foundation

extension ScaleBenchmark {
    /// Measures one point (in this process) and prints it as one JSON line, for
    /// ``runAndPrint(sizes:senders:envelopes:cachedNonces:executable:)``.
    public func printPoint() async throws {
        let result = try await run()
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
    }

    /// Measures each allowlist size in `sizes` in a process of its own (`executable bench scale --point N` with
    /// the other settings), so that each point's resident memory is the collector core's; prints the table and
    /// the figures.
    public static func runAndPrint(
        sizes: [Int], senders: Int, envelopes: Int, cachedNonces: Int, evidence: Evidence, loader: Loader,
        executable: URL
    ) throws {
        var points: [ScaleBenchmark.Point] = []
        for size in sizes {
            points.append(
                try measure(
                    size, senders: senders, envelopes: envelopes, cachedNonces: cachedNonces, evidence: evidence,
                    loader: loader, executable: executable))
        }

        print(
            "Collector core, \(envelopes) envelopes from \(senders) agents, \(cachedNonces) nonces in the replay cache, "
                + "evidence: \(evidence.rawValue), loader: \(loader.rawValue)")
        print(
            TextTable(
                header: ["AGENTS", "ENVELOPES/S", "RSS MB", "PEAK RSS MB", "LOAD PEAK MB", "ALLOWLIST LOAD S"],
                rows: points.map {
                    [
                        "\($0.agents)", format($0.perSecond), String(format: "%.1f", $0.residentMegabytes),
                        String(format: "%.1f", $0.peakResidentMegabytes),
                        String(format: "%.1f", $0.loadPeakResidentMegabytes),
                        String(format: "%.2f", $0.allowlistLoadSeconds),
                    ]
                }
            ).rendered)
        var figures: [String: Double] = [:]
        for point in points {
            let label =
                point.agents >= 1000 && point.agents % 1000 == 0 ? "\(point.agents / 1000)k" : "\(point.agents)"
            figures["collector_per_s_\(label)"] = point.perSecond.rounded()
            figures["collector_rss_mb_\(label)"] = (point.residentMegabytes * 10).rounded() / 10
            figures["collector_peak_rss_mb_\(label)"] = (point.peakResidentMegabytes * 10).rounded() / 10
            figures["collector_load_peak_rss_mb_\(label)"] = (point.loadPeakResidentMegabytes * 10).rounded() / 10
            figures["allowlist_load_s_\(label)"] = (point.allowlistLoadSeconds * 100).rounded() / 100
        }
        let rates = points.map(\.perSecond)
        if let slowest = rates.min(), let fastest = rates.max(), fastest > 0 {
            // 1.0 is perfectly flat; the target is within 20 % (≥ 0.8).
            figures["collector_scale_flatness"] = (slowest / fastest * 1000).rounded() / 1000
        }
        print(try jsonLine(figures))
    }

    private static func measure(
        _ size: Int, senders: Int, envelopes: Int, cachedNonces: Int, evidence: Evidence, loader: Loader,
        executable: URL
    ) throws -> ScaleBenchmark.Point {
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "bench", "scale", "--point", "\(size)", "--senders", "\(senders)", "--envelopes", "\(envelopes)",
            "--cached-nonces", "\(cachedNonces)", "--evidence", evidence.rawValue,
            "--loader", loader.rawValue,
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let line = data.split(separator: UInt8(ascii: "\n")).last,
            let point = try? JSONDecoder().decode(ScaleBenchmark.Point.self, from: Data(line))
        else {
            throw BenchmarkError("the measurement with \(size) agents failed (exit \(process.terminationStatus))")
        }
        return point
    }
}
