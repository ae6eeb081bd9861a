import ArgumentParser
import EdgeProofBench
import EdgeProofTPM
import Foundation

extension EdgeProof.Bench {
    struct Agent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Envelopes signed per second through EdgeProofTPM against bare Esys_Sign; the agent's memory.",
            discussion: """
                For each key type (ECC P-256, RSA-2048) on the same persistent key: Esys_Sign in a loop on one \
                thread (bare), whole envelopes as the agent signs them (on the TPM's executor, as its send loop), \
                and TPMSigner signatures from the cooperative pool (two thread handoffs each), in interleaved \
                rounds; rates are medians over the rounds, and agent_sign_ratio is the median over the rounds of \
                the ES256 envelope rate over the bare rate of the same round. Then the real agent (this \
                executable's agent command) against a TLS broker, collector and passthrough gateway: its VmRSS \
                idle and while sending continuously. Without --tcti it starts a swtpm of its own.
                """)

        @Option(help: "TCTI of the TPM to use, e.g. device:/dev/tpmrm0; default: a swtpm of its own.")
        var tcti: String?
        @Option(help: "Persistent handle for the ECC key (provisioned if empty; the agent signs with it).")
        var eccHandle: PersistentHandle = PersistentHandle("0x81020020")!
        @Option(help: "Persistent handle for the RSA key (provisioned if empty).")
        var rsaHandle: PersistentHandle = PersistentHandle("0x81020021")!
        @Option(help: "Signatures (envelopes) per path per round.") var count = 50
        @Option(help: "Interleaved rounds of the three signing paths.") var rounds = 21
        @Flag(help: "Watch the agent's memory briefly (1 s idle, 2 s sending) instead of 3 s and 8 s.")
        var quick = false

        func validate() throws {
            guard count > 0, rounds > 0 else { throw ValidationError("--count and --rounds must be positive") }
        }

        func run() async throws {
            guard let executable = Bundle.main.executablePath else { throw CLIError("cannot find this executable") }
            try await AgentBenchmark(
                tcti: tcti, eccHandle: eccHandle, rsaHandle: rsaHandle, count: count, rounds: rounds,
                executable: executable, idleSeconds: quick ? 1 : 3, sendingSeconds: quick ? 2 : 8
            ).runAndPrint()
        }
    }
}
