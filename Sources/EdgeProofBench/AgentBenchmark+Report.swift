import EdgeProofCore
import EdgeProofService
import EdgeProofTPM
import Foundation

extension AgentBenchmark {
    /// Runs the benchmark and prints the signing table, the memory table and the figures.
    public func runAndPrint() async throws {
        let result = try await run()

        var figures = [String: Double]()
        var rows = [[String]]()
        for rates in result.signing {
            let name = rates.algorithm.signatureAlgorithm.rawValue.lowercased()
            figures["bare_sign_per_s_\(name)"] = rates.bare.rounded()
            figures["tpm_sign_per_s_\(name)"] = rates.signer.rounded()
            figures["tpm_envelope_per_s_\(name)"] = rates.envelope.rounded()
            figures[rates.algorithm == .eccP256 ? "agent_sign_ratio" : "agent_sign_ratio_\(name)"] =
                (rates.ratio * 1000).rounded() / 1000
            rows.append([
                rates.algorithm.rawValue, format(rates.bare), format(rates.envelope),
                String(format: "%.3f", rates.ratio), format(rates.signer),
            ])
        }
        let memory = result.memory
        let megabytes = { (value: Double) in (value * 10).rounded() / 10 }
        figures["agent_rss_idle_mb"] = megabytes(memory.idleMegabytes)
        figures["agent_rss_sending_mb"] = megabytes(memory.sendingMegabytes)
        figures["agent_rss_mb"] = megabytes(memory.peakMegabytes)
        figures["agent_sending_accepted"] = Double(memory.sendingAccepted)
        figures["count"] = Double(count)

        let tpm = result.startedSoftwareTPM ? "a swtpm of its own (\(result.tcti))" : result.tcti
        print("Agent signing on \(tpm): \(count) per path per round, medians of \(rounds) interleaved rounds")
        let header = ["KEY", "BARE ESYS_SIGN/S", "ENVELOPES/S", "RATIO", "TPMSIGNER FROM POOL/S"]
        print(TextTable(header: header, rows: rows).rendered)
        print("")
        print("Agent resident memory (VmRSS, real agent process, ECC key, passthrough gateway)")
        print(
            TextTable(
                header: ["STATE", "MAX RSS MB", "ENVELOPES ACCEPTED"],
                rows: [
                    ["idle", String(format: "%.1f", memory.idleMegabytes), "\(memory.idleAccepted)"],
                    [
                        "sending", String(format: "%.1f", memory.sendingMegabytes),
                        "\(memory.sendingAccepted) in \(String(format: "%.1f", memory.sendingDuration)) s",
                    ],
                ]
            ).rendered)
        print(try jsonLine(figures))
    }
}
