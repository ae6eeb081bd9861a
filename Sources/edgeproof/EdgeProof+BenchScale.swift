import ArgumentParser
import EdgeProofBench
import Foundation

extension ScaleBenchmark.Evidence: ExpressibleByArgument {}
extension ScaleBenchmark.Loader: ExpressibleByArgument {}

extension EdgeProof.Bench {
    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Collector throughput and resident memory with 10, 1,000 and 100,000 allowlisted agents and a full replay cache.",
            discussion: """
                Each point runs in a process of its own (this program again), so its resident memory is that of the
                collector's core: the allowlist loaded from a JSON file, a replay cache holding --cached-nonces
                unexpired nonces, and the collector's verification and group-committed records file (EnvelopeIntake
                and GroupCommitLog, as the collector runs them) storing pre-signed envelopes from --senders agents.
                With --evidence trust-blocks (the default) every entry carries a tpm-ek-cert trust block of a real
                one's size (some 2.3 KB), as enrollment writes them; --evidence none is an operator-configured list.
                RSS is after the run; PEAK RSS from the allowlist's loading to the end; LOAD PEAK while loading.
                """)

        @Option(help: "Allowlist sizes to measure, comma-separated.") var agents = "10,1000,100000"
        @Option(help: "Agents that send the measured envelopes.") var senders = 100
        @Option(help: "Envelopes per point.") var envelopes = 20_000
        @Option(help: "Unexpired nonces in the replay cache (e.g. 1,000 envelopes/s for a 300 s nonce lifetime).")
        var cachedNonces = 300_000
        @Option(help: "What each entry carries besides its key: none or trust-blocks.")
        var evidence: ScaleBenchmark.Evidence = .trustBlocks
        @Option(help: "collector (chunked, trust blocks as summaries) or foundation-whole-file (before, to compare).")
        var loader: ScaleBenchmark.Loader = .collector
        @Option(help: .hidden) var point: Int?

        func run() async throws {
            if let point {
                return try await ScaleBenchmark(
                    agents: point, senders: senders, envelopes: envelopes, cachedNonces: cachedNonces,
                    evidence: evidence, loader: loader
                ).printPoint()
            }
            let sizes = agents.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw CLIError("--agents needs positive numbers") }
            try ScaleBenchmark.runAndPrint(
                sizes: sizes, senders: senders, envelopes: envelopes, cachedNonces: cachedNonces,
                evidence: evidence, loader: loader,
                executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())
        }
    }
}
