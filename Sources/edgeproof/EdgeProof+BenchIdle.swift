import ArgumentParser
import EdgeProofBench
import Foundation

extension EdgeProof.Bench {
    struct Idle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Thousands of agents connected at once and idle while a few send: broker memory per connection, latency with and without them.",
            discussion: """
                Every agent has its own certificate (issued in-process under the broker's CA) and connects with mutual TLS
                and a 60 s keepalive; they are held by child processes (`bench hold-idle`, 2,000 each). The senders publish
                evenly paced envelopes through the gateway (enforce) to the collector before and after the idle agents
                connect; the table gives their publish-to-receipt latency both times, and mosquitto's VmRSS.
                """)

        @Option(help: "Idle agents connected at once.") var connections = 5_000
        @Option(help: "Agents sending meanwhile.") var senders = 10
        @Option(help: "Envelopes per sender and phase.") var envelopes = 60
        @Option(help: "The senders' combined rate (envelopes/s).") var rate = 200.0

        func validate() throws {
            guard connections >= 0, senders > 0, envelopes > 0, rate > 0 else {
                throw ValidationError("--senders, --envelopes and --rate must be positive, --connections not negative")
            }
        }

        func run() async throws {
            try await IdleConnectionsBenchmark(
                idle: connections, senders: senders, envelopesPerSender: envelopes, ratePerSecond: rate
            ).runAndPrint()
        }
    }

    /// The child process of `bench idle` that holds a share of the idle connections.
    struct HoldIdle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hold-idle", abstract: "Holds idle agent connections for `bench idle` (internal).",
            shouldDisplay: false)

        @Option var port: Int
        @Option var certificates: String
        @Option var names: String

        func run() async throws {
            try await IdleConnectionsBenchmark.hold(
                names: names.split(separator: ",").map(String.init), port: port,
                certificateDirectory: URL(fileURLWithPath: certificates))
        }
    }
}
