import ArgumentParser
import EdgeProofCore
import EdgeProofOTLP
import EdgeProofStorage
import Foundation

extension EdgeProof {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-verify stored records offline: every envelope's signature against the allowlisted key.",
            discussion: """
                Reads collector records files (JSON Lines) or its OTLP JSON files (otlp: output, one
                ExportMetricsServiceRequest per line; told apart by their first line) and checks each line's
                original JWS with the public key of its agent from the allowlist, and that what the line says
                agrees with the signed claims. Prints, per file, how many lines verified. Exit status 1 if any
                did not verify.
                """
        )

        @Option(help: "Allowlist file (JSON or YAML) with the agents' public keys.") var allowlist: String
        @Argument(help: "Records files or OTLP JSON files (*.jsonl).") var files: [String]

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("give at least one records file") }
        }

        func run() throws {
            let verifier = RecordFileVerifier(allowlist: try AllowlistFile(path: allowlist).load())
            var allGood = true
            for file in files {
                let url = URL(fileURLWithPath: file)
                let report =
                    if Self.isOTLP(url) {
                        try verifier.verify(file: url) { line in
                            do throws(ValidationFailure) {
                                try OTLPRecord.verify(line: line, with: verifier.allowlist)
                                return nil
                            } catch {
                                return error.description
                            }
                        }
                    } else {
                        try verifier.verify(file: url)
                    }
                print("\(report.file): \(report.verified)/\(report.records) records verified")
                for failure in report.failures.prefix(20) {
                    print("  line \(failure.line): \(failure.problem)")
                }
                if report.failures.count > 20 { print("  … \(report.failures.count - 20) more") }
                allGood = allGood && report.allVerified
            }
            if !allGood { throw ExitCode.failure }
        }

        /// Whether the file's first line is OTLP JSON (`{"resourceMetrics"…`).
        static func isOTLP(_ url: URL) -> Bool {
            guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
            defer { try? handle.close() }
            return OTLPRecord.looksLikeOTLP((try? handle.read(upToCount: 64)) ?? Data())
        }
    }
}
