import ArgumentParser
import EdgeProofCore
import EdgeProofStorage
import Foundation

extension EdgeProof {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-verify stored records offline: every envelope's signature against the allowlisted key.",
            discussion: """
                Reads collector records files (JSON Lines) and checks each record's original JWS with the public
                key of its agent from the allowlist, and that the record's fields agree with the signed claims.
                Prints, per file, how many records verified. Exit status 1 if any record did not verify.
                """
        )

        @Option(help: "Allowlist file (JSON or YAML) with the agents' public keys.") var allowlist: String
        @Argument(help: "Records files (*.jsonl).") var files: [String]

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("give at least one records file") }
        }

        func run() throws {
            let verifier = RecordFileVerifier(allowlist: try AllowlistFile(path: allowlist).load())
            var allGood = true
            for file in files {
                let report = try verifier.verify(file: URL(fileURLWithPath: file))
                print("\(report.file): \(report.verified)/\(report.records) records verified")
                for failure in report.failures.prefix(20) {
                    print("  line \(failure.line): \(failure.problem)")
                }
                if report.failures.count > 20 { print("  … \(report.failures.count - 20) more") }
                allGood = allGood && report.allVerified
            }
            if !allGood { throw ExitCode.failure }
        }
    }
}
