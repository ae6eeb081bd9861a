import EdgeProofTesting
import Foundation
import Testing

@Suite("edgeproof bench")
struct BenchCommandTests {
    @Test("bench agent runs on a swtpm of its own and ends with one JSON object of its figures")
    func agentBenchPrintsFigures() async throws {
        let result = try await ProcessRunner.run(
            PackagePaths.edgeproofExecutable, ["bench", "agent", "--count", "20", "--rounds", "1", "--quick"])
        #expect(result.status == 0, "\(result.standardError)")
        let lastLine = try #require(result.output.split(separator: "\n").last)
        let figures = try JSONDecoder().decode([String: Double].self, from: Data(lastLine.utf8))
        for key in [
            "agent_sign_ratio", "agent_sign_ratio_rs256", "bare_sign_per_s_es256", "tpm_envelope_per_s_es256",
            "agent_rss_mb", "agent_rss_idle_mb", "agent_rss_sending_mb", "agent_sending_accepted",
        ] {
            let value = try #require(figures[key], "no \(key) in \(lastLine)")
            #expect(value > 0, "\(key)")
        }
    }

    @Test("bench verify stores every envelope through the collector's pipeline and ends with one JSON object of its figures")
    func verifyBenchPrintsFigures() async throws {
        let result = try await ProcessRunner.run(
            PackagePaths.edgeproofExecutable, ["bench", "verify", "--count", "40", "--rounds", "1"])
        #expect(result.status == 0, "\(result.standardError)")
        let lastLine = try #require(result.output.split(separator: "\n").last)
        let figures = try JSONDecoder().decode([String: Double].self, from: Data(lastLine.utf8))
        for algorithm in ["es256", "rs256"] {
            for key in [
                "verify_per_s_", "verify_per_s_\(algorithm)_all_cores", "verify_per_s_\(algorithm)_otlp", "bare_verify_per_s_",
                "verify_ratio_",
            ] {
                let name = key.hasSuffix("_") ? key + algorithm : key
                let value = try #require(figures[name], "no \(name) in \(lastLine)")
                #expect(value > 0, "\(name)")
            }
        }
    }

    @Test("bench enroll verifies enrollments prepared with a swtpm and prints every figure, the targets and verdicts")
    func enrollBenchPrintsFigures() async throws {
        let result = try await ProcessRunner.run(
            PackagePaths.edgeproofExecutable, ["bench", "enroll", "--enrollments", "3", "--rounds", "1"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.output.contains("ENROLL/S 1 CORE"))
        #expect(result.output.contains("enrollment book"))
        let lastLine = try #require(result.output.split(separator: "\n").last)
        let figures = try JSONDecoder().decode([String: Double].self, from: Data(lastLine.utf8))
        for key in [
            "enroll_per_s", "bare_crypto_per_s", "enroll_ratio", "enroll_per_s_target", "enroll_ratio_target",
            "us_registrar_begin", "us_registrar_finish", "us_ek_chain_check", "us_makecredential",
            "us_certify_signature", "us_quote_signature", "us_ek_certificate_parse",
        ] {
            let value = try #require(figures[key], "no \(key) in \(lastLine)")
            #expect(value > 0, "\(key)")
        }
        for key in ["enroll_per_s_met", "enroll_ratio_met"] {
            let value = try #require(figures[key], "no \(key) in \(lastLine)")
            #expect(value == 0 || value == 1, "\(key)")
        }
        #expect(figures["enrollments"] == 3)

        let json = try await ProcessRunner.run(
            PackagePaths.edgeproofExecutable, ["bench", "enroll", "--enrollments", "2", "--rounds", "1", "--json"])
        #expect(json.status == 0, "\(json.standardError)")
        let lines = json.output.split(separator: "\n")
        #expect(lines.count == 1)
        let only = try JSONDecoder().decode([String: Double].self, from: Data((lines.first ?? "").utf8))
        #expect((only["enroll_per_s"] ?? 0) > 0)
    }
}
