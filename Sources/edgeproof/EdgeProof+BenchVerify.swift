import ArgumentParser
import EdgeProofBench

extension EdgeProof.Bench {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The collector's verification pipeline against bare signature verification, ES256 and RS256.",
            discussion: """
                Pipeline: the collector's own code (EnvelopeIntake: decode, allowlist lookup, signature, nonce check
                and single-use claim, geographic policy, record encoding; then the group-committed records file with
                fsync on) on envelopes signed beforehand with real nonces, on one core and on all cores. Bare: the same
                library's signature check on a precomputed digest, same key. The breakdown splits the envelope into
                parse only and verify only (SHA-256 of the signing input, then the same signature check). The phases
                run in interleaved rounds (other load on the machine falls on all of them alike); each reports its
                best round. A pipeline round ends with one fsync that nothing overlaps (a few ms): rounds of thousands
                of envelopes keep that tail from standing in for the sustained rate.
                """)

        @Option(help: "Envelopes per algorithm, phase and round.") var count = 8000
        @Option(help: "Interleaved rounds.") var rounds = 5
        @Option(help: "Put a fence of this many vertices on the agent's place, and GNSS fixes in the envelopes.")
        var fence: Int?

        func validate() throws {
            guard count > 0, rounds > 0 else { throw ValidationError("--count and --rounds must be positive") }
        }

        func run() async throws {
            try await VerifyBenchmark(count: count, rounds: rounds, fenceVertices: fence).runAndPrint()
        }
    }
}
