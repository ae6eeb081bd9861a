import ArgumentParser
import EdgeProofBench

extension EdgeProof.Bench {
    struct Outage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A site's agents with spooled backlogs behind a cut uplink: how the site bridge drains them once it returns.",
            discussion: """
                Two TLS brokers (central with collector-1; a site broker with --agents real agents) and the site's
                gateway in enforce mode between them, its uplink through a TCP proxy. Every agent's spool holds
                --batches batches; the uplink is cut before the agents start and restored --outage-s later.
                outage_drain_s: from the restore until every batch is receipted; outage_drain_per_s: envelopes per
                second over that time; outage_nonce_peak_per_s: the most nonces collector-1 issued in any 1 s;
                outage_lost and outage_duplicated: batches missing from, or stored twice in, the records (both must be 0).
                """)

        @Option(help: "Agents at the site.") var agents = 50
        @Option(help: "Batches spooled per agent.") var batches = 20
        @Option(help: "How long the uplink is down, in seconds.") var outageS = 10.0
        @Option(help: "The bridge's relay.release_per_s (0: unpaced).") var releasePerS = 1000.0

        func validate() throws {
            guard agents > 0, batches > 0, outageS >= 0, releasePerS >= 0 else {
                throw ValidationError("--agents and --batches must be positive, --outage-s and --release-per-s not negative")
            }
        }

        func run() async throws {
            try await OutageBenchmark(
                agents: agents, batches: batches, outage: .milliseconds(Int(outageS * 1000)), releasePerSecond: releasePerS
            ).runAndPrint()
        }
    }
}
