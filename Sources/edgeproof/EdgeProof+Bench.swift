import ArgumentParser

/// `edgeproof bench`: one subcommand per measurement, each in its own `EdgeProof+Bench<Name>.swift`; a subcommand
/// parses its options and makes one call into EdgeProofBench, which runs the measurement and prints the figures.
extension EdgeProof {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measurements. Each prints a table and, as its last line, one JSON object of figures.",
            subcommands: [
                Verify.self, Agent.self, Transport.self, EndToEnd.self, Scale.self, Soak.self, Drain.self, Attest.self,
                Enroll.self, Fence.self, Outage.self, Idle.self, HoldIdle.self,
            ]
        )
    }
}
