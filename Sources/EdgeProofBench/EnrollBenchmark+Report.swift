import EdgeProofService
import Foundation

extension EnrollBenchmark {
    /// The figures of the last line, keys as README "Measurements" names them.
    public static func figures(_ result: Result) -> [String: Double] {
        var figures: [String: Double] = [
            "enroll_per_s": result.enrollPerSecond.rounded(),
            "bare_crypto_per_s": result.bareCryptoPerSecond.rounded(),
            "enroll_ratio": (result.ratio * 1000).rounded() / 1000,
            "enroll_per_s_target": targetPerSecond,
            "enroll_ratio_target": targetRatio,
            "enroll_per_s_met": result.enrollPerSecond >= targetPerSecond ? 1 : 0,
            "enroll_ratio_met": result.ratio >= targetRatio ? 1 : 0,
            "enrollments": Double(result.enrollments),
            "rounds": Double(result.rounds),
        ]
        for (step, microseconds) in result.breakdown {
            let key = step.rawValue.lowercased().replacingOccurrences(of: " ", with: "_")
            figures["us_\(key)"] = (microseconds * 10).rounded() / 10
        }
        return figures
    }

    /// Runs and prints the table, the breakdown and, as the last line, the figures; `json`: the figures only.
    public func runAndPrint(json: Bool = false) async throws {
        let result = try await run()
        let figures = Self.figures(result)
        if json {
            print(try jsonLine(figures))
            return
        }
        func verdict(_ met: Bool) -> String { met ? "met" : "not met" }
        print(
            "Registrar enrollment checks (EnrollmentVerifier begin + finish) on \(result.enrollments) enrollments "
                + "prepared with swtpm in \(String(format: "%.1f", result.preparationSeconds)) s (untimed), "
                + "one task, medians of \(result.rounds) interleaved rounds.")
        print(
            "Excluded: the TPM, MQTT and JSON decoding, and the enrollment book (its fsync-bound submit is "
                + "`bench attest`'s figure).")
        print(
            TextTable(
                header: ["ENROLL/S 1 CORE", "BARE CRYPTO/S", "RATIO", "TARGET", "RESULT"],
                rows: [
                    [
                        format(result.enrollPerSecond), format(result.bareCryptoPerSecond),
                        String(format: "%.2f", result.ratio),
                        "≥ \(format(Self.targetPerSecond))/s, ratio ≥ \(Self.targetRatio)",
                        "\(verdict(result.enrollPerSecond >= Self.targetPerSecond)) / "
                            + verdict(result.ratio >= Self.targetRatio),
                    ]
                ]
            ).rendered)
        print(
            "Bare crypto per enrollment: EK chain check + MakeCredential (RSA-OAEP to the EK, KDFa, AES-CFB, HMAC) "
                + "for the AK name + the certify's and the quote's ECDSA signatures under the AK.")
        print("Breakdown, µs per enrollment, each step alone:")
        print(
            TextTable(
                header: ["STEP", "µS"],
                rows: result.breakdown.map { [$0.step.rawValue, String(format: "%.1f", $0.microseconds)] }
            ).rendered)
        print(try jsonLine(figures))
    }
}
