import Crypto
import EdgeProofCore
import EdgeProofService
import Foundation

/// `edgeproof bench verify`: the collector's verification pipeline (``PipelineBenchmark``) against bare
/// signature verification, ES256 and RS256, in interleaved rounds; prints a table, a breakdown and the figures.
public struct VerifyBenchmark: Sendable {
    /// Envelopes per algorithm, phase and round.
    public var count: Int
    public var rounds: Int
    /// Vertices of a fence on the agent's place (its envelopes then carry a GNSS fix inside); nil: no fence.
    public var fenceVertices: Int?

    public init(count: Int = 8000, rounds: Int = 5, fenceVertices: Int? = nil) {
        self.count = count
        self.rounds = rounds
        self.fenceVertices = fenceVertices
    }

    public func runAndPrint() async throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var figures = [String: Double]()
        var rows = [[String]]()
        var breakdown = [[String]]()
        for algorithm in SignatureAlgorithm.allCases {
            let fence = try fenceVertices.map { try FenceBenchmark.jaggedFence(vertices: $0) }
            let pipeline = try await PipelineBenchmark(algorithm: algorithm, envelopes: count, fence: fence)
            let signer = pipeline.signer
            let key = try signer.publicKey
            var envelopes = [Data]()
            for index in 0..<min(count, 200) {
                let claims = BenchmarkClaims.make(keyHash: signer.publicKeyHash, nonce: "bench-\(index)")
                envelopes.append(try await SignedEnvelope.sign(claims, with: signer).serialized())
            }
            let parsed = try envelopes.map { try SignedEnvelope(parsing: $0) }
            let digests = parsed.map { SHA256.hash(data: $0.signingInput) }

            var best = [Double](repeating: 0, count: 6)
            var checkOnly = 0.0
            var withOTLP = 0.0
            var otlpLines = 0.0
            for _ in 0..<rounds {
                otlpLines = max(otlpLines, try pipeline.otlpLinesOnly())
                checkOnly = max(checkOnly, try pipeline.checkOnly())
                best[0] = max(best[0], try await pipeline.round(lanes: 1))
                // The same pipeline writing OTLP JSON lines beside the records (collector `otlp:`).
                withOTLP = max(withOTLP, try await pipeline.round(lanes: 1, otlp: true))
                best[1] = max(best[1], try await pipeline.round(lanes: cores))
                // Interleaved with the pipeline rounds, so that load from elsewhere falls on all alike.
                let phases: [(Int) throws -> Void] = [
                    { index in
                        let envelope = parsed[index % parsed.count]
                        let digest = digests[index % digests.count]
                        guard key.isValidSignature(envelope.signatureBytes, forDigest: digest) else {
                            throw BenchmarkError("benchmark signature did not verify")
                        }
                    },
                    { index in
                        let envelope = try SignedEnvelope(parsing: envelopes[index % envelopes.count])
                        try envelope.verifySignature(with: key)
                    },
                    { index in _ = try SignedEnvelope(parsing: envelopes[index % envelopes.count]) },
                    { index in try parsed[index % parsed.count].verifySignature(with: key) },
                ]
                let rates = try phases.map { try measureRate(count, $0) }
                for (offset, rate) in rates.enumerated() { best[2 + offset] = max(best[2 + offset], rate) }
            }
            let (pipelineRate, allCoresRate, bareRate, envelopeRate, parseRate, verifyRate) =
                (best[0], best[1], best[2], best[3], best[4], best[5])
            let name = algorithm.rawValue.lowercased()
            figures["verify_per_s_\(name)"] = pipelineRate.rounded()
            figures["verify_per_s_\(name)_all_cores"] = allCoresRate.rounded()
            figures["bare_verify_per_s_\(name)"] = bareRate.rounded()
            figures["verify_ratio_\(name)"] = (pipelineRate / bareRate * 1000).rounded() / 1000
            figures["verify_core_scaling_\(name)"] = (allCoresRate / pipelineRate * 100).rounded() / 100
            figures["envelope_verify_per_s_\(name)"] = envelopeRate.rounded()
            figures["check_only_per_s_\(name)"] = checkOnly.rounded()
            figures["verify_per_s_\(name)_otlp"] = withOTLP.rounded()
            figures["otlp_line_us_\(name)"] = (1e7 / otlpLines).rounded() / 10
            figures["otlp_cost_\(name)"] = ((1 - withOTLP / pipelineRate) * 1000).rounded() / 1000
            figures["parse_per_s_\(name)"] = parseRate.rounded()
            figures["signature_verify_per_s_\(name)"] = verifyRate.rounded()
            rows.append([
                algorithm.rawValue, format(pipelineRate), format(withOTLP), format(allCoresRate), format(bareRate),
                String(format: "%.2f", pipelineRate / bareRate),
            ])
            breakdown.append(
                [algorithm.rawValue]
                    + [pipelineRate, checkOnly, envelopeRate, parseRate, verifyRate, bareRate].map {
                        String(format: "%.1f", 1e6 / $0)
                    })
        }
        figures["cores"] = Double(cores)
        if let fenceVertices { figures["fence_vertices"] = Double(fenceVertices) }
        print(
            "The collector's pipeline (verify, claim the nonce, encode, group-commit the record), "
                + "\(count) envelopes per round, best of \(rounds)"
                + (fenceVertices.map { "; a \($0)-vertex fence on the place, GNSS fixes in the envelopes" } ?? ""))
        print(
            TextTable(
                header: [
                    "ALG", "PIPELINE/S 1 CORE", "WITH OTLP/S", "PIPELINE/S \(cores) CORES", "BARE VERIFY/S", "RATIO",
                ], rows: rows
            ).rendered)
        print(
            "Breakdown, µs per envelope on one core: pipeline; all checks and the record encoding, no file; "
                + "parse + verify; parse only; verify only (hash + signature); bare signature")
        print(
            TextTable(
                header: ["ALG", "PIPELINE", "CHECKS", "PARSE+VERIFY", "PARSE", "VERIFY", "BARE"], rows: breakdown
            ).rendered)
        print(try jsonLine(figures))
    }
}
