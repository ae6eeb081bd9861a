import ArgumentParser
import EdgeProofBench

extension EdgeProof.Bench {
    struct EndToEnd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "e2e",
            abstract: "Envelopes through the whole path: TLS broker, gateway (enforce), collector with durable records.",
            discussion: """
                Simulated agents (software-key load generators, each with its own certificate) fetch real nonces from
                the collector through the gateway and sign their envelopes before the clock starts; then they publish
                and wait for every receipt. Latency is publish to receipt.
                """)

        @Option(help: "Simulated agents.") var agents = 20
        @Option(help: "Envelopes per agent.") var envelopes = 100
        @Option(help: "Envelopes each agent has awaiting a receipt at once.") var inFlight = 8
        @Option(help: "2: the saturating phase on one broker, then spread over two partitioned brokers (partition_scaling).")
        var brokers = 1
        @Flag(help: "Run twice in turn, without and with operations (/metrics scraped every second, OTLP records), and compare.")
        var compareOperations = false

        func validate() throws {
            guard (1...2).contains(brokers) else { throw ValidationError("--brokers is 1 or 2") }
        }

        func run() async throws {
            if brokers == 2 {
                return try await PartitionBenchmark(agents: agents, envelopesPerAgent: envelopes, inFlightPerAgent: inFlight)
                    .runAndPrint()
            }
            if compareOperations {
                return try await EndToEndBenchmark(agents: agents, envelopesPerAgent: envelopes, inFlightPerAgent: inFlight)
                    .compareOperations()
            }
            try await EndToEndBenchmark(agents: agents, envelopesPerAgent: envelopes, inFlightPerAgent: inFlight)
                .runAndPrint()
        }
    }
}
