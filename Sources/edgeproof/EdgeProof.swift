import ArgumentParser

@main
struct EdgeProof: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edgeproof",
        abstract: "Verifiable edge telemetry: TPM-signed, geofenced metric envelopes over MQTT.",
        discussion: """
            Agents sign metric envelopes with a TPM-resident key and bind their location into the
            signed content; a gateway and collectors verify them. See README.md.
            """,
        subcommands: [
            TPM.self, AllowlistCommand.self, Agent.self, Gateway.self, Collector.self, Registrar.self, Enroll.self, Verify.self, Demo.self, Bench.self,
        ]
    )
}
