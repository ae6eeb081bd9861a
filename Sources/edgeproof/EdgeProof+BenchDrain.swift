import ArgumentParser
import EdgeProofAgent
import EdgeProofBench

extension EdgeProof.Bench {
    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An agent draining a spooled backlog over a slow link, against the TPM's bare signing rate.",
            discussion: """
                A real swtpm, TLS mosquitto, collector and passthrough gateway. The agent's spool holds --batches
                one-sample batches before it starts; it reaches the broker through a TCP proxy that delays every
                chunk by --delay-ms each way. drain_per_s: batches receipted per second until the spool is empty;
                bare_sign_per_s: Esys_Sign in a loop on the same key in the same run; drain_ratio: their quotient.
                """)

        @Option(help: "Batches in the spool when the agent starts.") var batches = 2000
        @Option(help: "Delay the proxy adds each way, in milliseconds (the round trip grows by twice this).")
        var delayMs = 25
        @Option(help: "The agent's max_in_flight.") var maximumInFlight = AgentConfiguration.defaultMaximumInFlight

        func validate() throws {
            guard batches > 0, delayMs >= 0, (1...1024).contains(maximumInFlight) else {
                throw ValidationError("--batches must be positive, --delay-ms not negative, --max-in-flight 1–1024")
            }
        }

        func run() async throws {
            try await DrainBenchmark(batches: batches, delay: .milliseconds(delayMs), maximumInFlight: maximumInFlight)
                .runAndPrint()
        }
    }
}
