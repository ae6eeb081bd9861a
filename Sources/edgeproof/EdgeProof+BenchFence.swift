import ArgumentParser
import EdgeProofBench

extension EdgeProof.Bench {
    struct Fence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The fence test per envelope for fences of 10 to 10,000 vertices (target: ≤ 2 µs at 1,000).",
            discussion: """
                Jagged, city-sized fences around Santa Clara; positions deep inside, near an edge, outside within the
                bounding box and outside it, each tested with a 5 m accuracy circle. Prints ns per test (best of the
                rounds) and the one-time preparation of each fence.
                """)

        @Option(help: "Tests per position class and round.") var tests = 200_000
        @Option(help: "Rounds.") var rounds = 5

        func validate() throws {
            guard tests > 0, rounds > 0 else { throw ValidationError("--tests and --rounds must be positive") }
        }

        func run() async throws {
            try FenceBenchmark(tests: tests, rounds: rounds).runAndPrint()
        }
    }
}
