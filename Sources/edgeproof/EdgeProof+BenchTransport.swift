import ArgumentParser
import EdgeProofBench

extension EdgeProof.Bench {
    struct Transport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bare MQTT transport: QoS 1 messages through a local mosquitto with mutual TLS, publisher to subscriber.",
            discussion: """
                Starts its own broker (broker/run-broker.sh) on a free port of 127.0.0.1 in a temporary directory
                and stops it afterwards. The rate is from the first publish to the last message received.
                """)

        @Option(help: "Messages to send.") var count = 20_000
        @Option(help: "Payload size in bytes.") var size = 600
        @Option(help: "Publishing tasks, each awaiting its PUBACKs in turn.") var publishers = 64

        func run() async throws {
            try await TransportBenchmark(count: count, size: size, publishers: publishers).runAndPrint()
        }
    }
}
