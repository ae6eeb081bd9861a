import ArgumentParser
import EdgeProofBench

extension EdgeProof.Bench {
    struct Attest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-attestations into a large attested allowlist: submits/s, bytes written, allowlist untouched.",
            discussion: """
                Enrolls --agents agents with trust blocks in one JSON allowlist, then submits --attestations
                re-attestations to the enrollment book (ledger lines appended with fsync, compacted past 4x the
                agents). Fails if the allowlist file was rewritten.
                """)

        @Option(help: "Enrolled agents in the allowlist.") var agents = 100_000
        @Option(help: "Re-attestations to submit.") var attestations = 100_000

        func run() throws {
            guard agents > 0, attestations > 0 else { throw CLIError("--agents and --attestations must be positive") }
            try AttestBenchmark(agents: agents, attestations: attestations).runAndPrint()
        }
    }
}
