import ArgumentParser
import EdgeProofBench
import Foundation

extension EdgeProof.Bench {
    struct Soak: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sustained load through broker, gateway and collector; every component's memory over time.",
            discussion: """
                mosquitto, `edgeproof gateway` (enforce), `edgeproof collector` and a real `edgeproof agent` \
                (signing with a swtpm of its own) run as separate processes on 127.0.0.1; the agent sends for \
                --duration at about --rate envelopes/s (sample_interval_s = 1 / rate; it reaches about 90 % of it \
                while the path keeps up; beyond, its spool grows with the backlog). With --load software-keys, \
                simulated agents in this process (load_generator) send instead, in a closed loop that builds no \
                backlog. The resident memory (VmRSS) of each process is printed every --sample-every seconds. \
                The last line is one JSON object: per component <name>_rss_start_mb and <name>_rss_end_mb (first \
                and last sample after the warm-up), <name>_rss_peak_mb, and its growth after the warm-up \
                (least-squares slope) as <name>_growth_mb_per_min and <name>_growth_mb_per_10k_envelopes; \
                envelopes_stored, distinct_nonces, agent_published and agent_accepted (the agent's counters, or \
                the load generator's). The warm-up must exceed the nonce lifetime, so that the replay cache is \
                full before growth counts.
                """)

        @Option(help: "How long the load runs: seconds, or with a unit (90s, 10m, 1h); default 10m.",
            transform: Soak.parseSeconds)
        var duration: Double = 600
        @Option(
            help: """
                Envelopes per second the load aims at; default 25, which one agent's one-envelope-at-a-time path \
                sustains on two cores (a higher rate only measures its growing backlog).
                """)
        var rate: Double = 25
        @Option(help: "Seconds before growth counts; default: nonce lifetime + 60 s.", transform: Soak.parseSeconds)
        var warmUp: Double?
        @Option(help: "Seconds between memory samples; default 10.", transform: Soak.parseSeconds)
        var sampleEvery: Double = 10
        @Option(help: "The collector's nonce_lifetime_s.") var nonceLifetime = 60
        @Option(
            help: """
                agent: the real agent signing with a swtpm; software-keys: simulated agents in this process \
                (bench-only software keys), --lanes envelopes under way each, paced to --rate.
                """)
        var load: LoadKind = .agent
        @Flag(help: "The agent signs a gpsd fix (gpsfake), checked against a 1,000-vertex fence (agent load).")
        var gnss = false
        @Flag(help: "The agent is on a site broker, and the gateway bridges it to the central broker (agent load).")
        var site = false
        @Flag(help: "Every service serves /metrics (the agent too), scraped every second through the soak.")
        var operations = false
        @Option(help: "Simulated agents (software-keys load).") var senders = 4
        @Option(help: "Envelopes each simulated agent has under way (software-keys load).") var lanes = 4

        enum LoadKind: String, ExpressibleByArgument, CaseIterable {
            case agent
            case softwareKeys = "software-keys"
        }

        var resolvedWarmUp: Double { warmUp ?? Double(nonceLifetime + 60) }

        func validate() throws {
            guard rate > 0, rate <= 2000 else { throw ValidationError("--rate must be between 0 and 2000") }
            guard senders > 0, senders <= 100, lanes > 0, lanes <= 64 else {
                throw ValidationError("--senders must be 1...100 and --lanes 1...64")
            }
            guard nonceLifetime > 0 else { throw ValidationError("--nonce-lifetime must be positive") }
            guard sampleEvery >= 0.1 else { throw ValidationError("--sample-every must be at least 0.1 s") }
            guard duration <= 24 * 3600 else { throw ValidationError("--duration is at most 24 h") }
            guard resolvedWarmUp + 2 * sampleEvery <= duration else {
                throw ValidationError("--duration must leave at least two samples after the warm-up")
            }
        }

        static func parseSeconds(_ text: String) throws -> Double {
            let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
                if let value = Double(trimmed.dropLast(suffix.count)), value >= 0 { return value * factor }
            }
            guard let value = Double(trimmed), value >= 0 else {
                throw ValidationError("\"\(text)\" is not a duration (e.g. 90, 90s, 10m, 1h)")
            }
            return value
        }

        func run() async throws {
            guard let executable = Bundle.main.executablePath else { throw CLIError("cannot find this executable") }
            var soak = SoakBenchmark(
                duration: duration, rate: rate, warmUp: resolvedWarmUp, sampleEvery: sampleEvery,
                nonceLifetime: nonceLifetime, executable: executable,
                load: load == .agent ? .agent : .softwareKeys(senders: senders, lanes: lanes))
            soak.gnss = gnss
            soak.site = site
            soak.operations = operations
            try await soak.runAndPrint()
        }
    }
}
