import ArgumentParser
import EdgeProofBench

extension EdgeProof.Bench {
    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Registrar enrollments verified per second on one core against their bare cryptography.",
            discussion: """
                Set-up (untimed): a swtpm with EK certificates from a local manufacturer CA, a signing key and an
                AK; --enrollments complete enrollments (agent begin, registrar begin, TPM activation, certify,
                quote). Timed on one task, in interleaved rounds: the registrar's begin (a fresh challenge) and
                finish for each prepared enrollment, and the bare cryptography on the same inputs (EK chain check,
                MakeCredential for the AK name, the certify's and the quote's AK signatures). The enrollment book
                is excluded (bench attest measures it). Targets: >= 200 enrollments/s and ratio >= 0.5.
                """)

        @Option(help: "Enrollments prepared with the TPM and verified per phase and round.") var enrollments = 200
        @Option(help: "Interleaved rounds; figures are medians.") var rounds = 7
        @Flag(help: "Print only the figures, as one JSON object.") var json = false

        func validate() throws {
            guard enrollments > 0, rounds > 0 else {
                throw ValidationError("--enrollments and --rounds must be positive")
            }
        }

        func run() async throws {
            try await EnrollBenchmark(enrollments: enrollments, rounds: rounds).runAndPrint(json: json)
        }
    }
}
