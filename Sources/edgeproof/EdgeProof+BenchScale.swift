import ArgumentParser
import EdgeProofDemo
import Foundation

extension EdgeProof.Bench {
    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Collector throughput and resident memory with 10, 1,000 and 100,000 allowlisted agents and a full replay cache.",
            discussion: """
                Each point runs in a process of its own (this program again), so its resident memory is that of the
                collector's core: the allowlist loaded from a JSON file, a replay cache holding --cached-nonces
                unexpired nonces, and the collector's verification and group-committed records file (EnvelopeIntake
                and GroupCommitLog, as the collector runs them) storing pre-signed envelopes from --senders agents.
                """)

        @Option(help: "Allowlist sizes to measure, comma-separated.") var agents = "10,1000,100000"
        @Option(help: "Agents that send the measured envelopes.") var senders = 100
        @Option(help: "Envelopes per point.") var envelopes = 20_000
        @Option(help: "Unexpired nonces in the replay cache (e.g. 1,000 envelopes/s for a 300 s nonce lifetime).")
        var cachedNonces = 300_000
        @Option(help: .hidden) var point: Int?

        func run() async throws {
            if let point {
                let result = try await ScaleBenchmark(
                    agents: point, senders: senders, envelopes: envelopes, cachedNonces: cachedNonces
                ).run()
                print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
                return
            }
            let sizes = agents.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw CLIError("--agents needs positive numbers") }
            var points: [ScaleBenchmark.Point] = []
            for size in sizes { points.append(try measure(size)) }

            print("Collector core, \(envelopes) envelopes from \(senders) agents, \(cachedNonces) nonces in the replay cache")
            print(
                TextTable(
                    header: ["AGENTS", "ENVELOPES/S", "RSS MB", "PEAK RSS MB", "ALLOWLIST LOAD S"],
                    rows: points.map {
                        ["\($0.agents)", format($0.perSecond), String(format: "%.1f", $0.residentMegabytes),
                         String(format: "%.1f", $0.peakResidentMegabytes), String(format: "%.2f", $0.allowlistLoadSeconds)]
                    }
                ).rendered)
            var figures: [String: Double] = [:]
            for point in points {
                let label = point.agents >= 1000 && point.agents % 1000 == 0 ? "\(point.agents / 1000)k" : "\(point.agents)"
                figures["collector_per_s_\(label)"] = point.perSecond.rounded()
                figures["collector_rss_mb_\(label)"] = (point.residentMegabytes * 10).rounded() / 10
                figures["collector_peak_rss_mb_\(label)"] = (point.peakResidentMegabytes * 10).rounded() / 10
                figures["allowlist_load_s_\(label)"] = (point.allowlistLoadSeconds * 100).rounded() / 100
            }
            let rates = points.map(\.perSecond)
            if let slowest = rates.min(), let fastest = rates.max(), fastest > 0 {
                // 1.0 is perfectly flat; the target is within 20 % (≥ 0.8).
                figures["collector_scale_flatness"] = (slowest / fastest * 1000).rounded() / 1000
            }
            print(try jsonLine(figures))
        }

        private func measure(_ size: Int) throws -> ScaleBenchmark.Point {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = [
                "bench", "scale", "--point", "\(size)", "--senders", "\(senders)", "--envelopes", "\(envelopes)",
                "--cached-nonces", "\(cachedNonces)",
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
                throw CLIError("the measurement with \(size) agents failed (exit \(process.terminationStatus))")
            }
            return point
        }
    }
}
