import ArgumentParser
import EdgeProofService
import EdgeProofCore
import EdgeProofDemo
import EdgeProofLocalStack
import EdgeProofStorage
import Foundation

extension EdgeProof {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the whole system locally and check the prototype's scenarios and a compromised agent's attacks in both gateway modes.",
            discussion: """
                Starts mosquitto (mutual TLS, ACL), one swtpm per agent, a collector and a gateway; provisions TPM keys,
                writes the allowlist; runs: agent-001 in US/California/Santa Clara (accepted), agent-002 in
                EU/Germany/Berlin against US-only places (rejected), agent-003 not on the allowlist (rejected), and
                agent-001 compromised: its TPM honestly signs crafted envelopes (a duplicate member name, a trailing
                comma, an uppercase key hash, a timestamp outside its nonce's window), each rejected, and its attempt to
                join the collectors' nonce group refused by the broker; agent-001 after ten power losses of its TPM
                (accepted); three agents signing their GNSS receiver's fix (gpsd fed by gpsfake) against a Santa Clara
                fence: inside (accepted), outside (location_outside_fence), too inaccurate
                (location_accuracy_insufficient); in passthrough and enforce mode. With --cluster ejabberd, the same on a
                2-node ejabberd cluster (no site phase), then node 1 killed while agent-001 sends. Prints a table, where the records are, re-verifies them, stops everything it
                started, and exits 1 if any outcome differs from the expected one.
                """
        )

        @Option(help: "Work directory for certificates, configuration, TPM-signed records and spools (default: a new temporary directory).")
        var workdir: String?

        @Option(
            help: """
                Run on a clustered MQTT engine instead of one mosquitto: 'ejabberd' starts a 2-node ejabberd cluster on \
                127.0.0.1 (installed with scripts/install-deps.sh --with-ejabberd when missing), agents on node 1, the \
                gateway, collector and registrar on node 2, and kills node 1 mid-run.
                """)
        var cluster: ClusterEngine?

        enum ClusterEngine: String, ExpressibleByArgument, CaseIterable {
            case ejabberd
        }

        func run() async throws {
            let directory =
                workdir.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("edgeproof-demo-\(UUID().uuidString.prefix(8))")
            if cluster == .ejabberd, !EjabberdCluster.isInstalled {
                print("· ejabberd is missing: scripts/install-deps.sh --with-ejabberd")
                // Its output is the user's to see (apt-get); the demo waits for it before starting anything.
                let installer = Process()
                installer.executableURL = URL(fileURLWithPath: PackagePaths.script("scripts/install-deps.sh"))
                installer.arguments = ["--with-ejabberd"]
                try installer.run()
                installer.waitUntilExit()
                guard installer.terminationStatus == 0, EjabberdCluster.isInstalled else {
                    throw ValidationError(
                        "could not install ejabberd (scripts/install-deps.sh --with-ejabberd exited \(installer.terminationStatus))")
                }
            }
            let engine: DemoRunner.Engine = cluster == .ejabberd ? .ejabberd : .mosquitto
            let runner = DemoRunner(workdir: directory, engine: engine) { line in print("· \(line)") }
            let report = try await runner.run()

            print("")
            let rows = report.outcomes.map { outcome in
                [
                    outcome.scenario.name, outcome.mode, outcome.scenario.expectation.description
                        + (outcome.expectedRejectedBy.map { " by \($0.rawValue)" } ?? ""),
                    outcome.observed, outcome.rejection?.rejectedBy.rawValue ?? "-",
                    outcome.rejection?.validationType.rawValue ?? "-", outcome.passed ? "ok" : "MISMATCH",
                ]
            }
            print(TextTable(header: ["SCENARIO", "MODE", "EXPECTED", "OBSERVED", "REJECTED_BY", "VALIDATION_TYPE", "RESULT"], rows: rows).rendered)
            print("")
            print("accepted records: \(report.recordsDirectory.path)")
            for file in report.verification {
                print("edgeproof verify: \(file.file): \(file.verified)/\(file.records) records verified")
            }
            print("")
            if report.passed {
                print("demo passed: every outcome is the expected one and every stored record verifies")
            } else {
                print("demo FAILED: see the table above")
                throw ExitCode.failure
            }
        }
    }
}
