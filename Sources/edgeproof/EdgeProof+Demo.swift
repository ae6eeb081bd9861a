import ArgumentParser

extension EdgeProof {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the whole system locally and check the prototype's scenarios (not yet available).")

        @Option(help: "Work directory for certificates, TPM state, logs and records.")
        var workdir: String?

        func run() async throws {
            print("edgeproof demo is not yet available: it arrives with the agent, gateway and collector services.")
            print("Until then, `swift test` exercises the wire contract, the allowlist and TPM signing on swtpm.")
        }
    }
}
