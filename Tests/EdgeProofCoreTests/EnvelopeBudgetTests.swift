import Crypto
import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

/// Batches cut by ``EnvelopeBudget`` always make envelopes within the limit, and the arithmetic behind it
/// is exact, so the cut is not wastefully early either.
@Suite struct EnvelopeBudgetTests {
    private let service = ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: "agent-001")
    private let geolocation = Geolocation(
        latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise")

    private func budget(_ signer: TestSigner, limit: Int = SignedEnvelope.defaultMaximumSize)
        -> EnvelopeBudget
    {
        EnvelopeBudget(
            maximumEnvelopeBytes: limit, agentName: "agent-001", publicKeyHash: signer.publicKeyHash,
            geographicRegion: Fixtures.santaClara, geolocation: geolocation, service: service)
    }

    /// System-like samples with values of varying length, each with its own capture time.
    private func samples(_ count: Int) -> [MetricSample] {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        return (0..<count).map { index in
            var values: [String: JSONValue] = ["cpu_percent": .number(Double(index % 100) + 0.25)]
            for key in 0..<(index % 30) { values["metric_\(key)"] = .number(Double(key * index)) }
            values["note"] = .string(String(repeating: "é", count: index % 50))
            return MetricSample(
                timestamp: Timestamp.string(from: start.addingTimeInterval(Double(index))), metricType: "system",
                values: values)
        }
    }

    private func envelope(_ samples: [MetricSample], _ signer: TestSigner) async throws -> SignedEnvelope {
        let claims = EnvelopeClaims(
            agentName: "agent-001", publicKeyHash: signer.publicKeyHash, nonce: String(repeating: "N", count: 128),
            timestamp: Timestamp.string(from: Date()), geographicRegion: Fixtures.santaClara, geolocation: geolocation,
            metrics: MetricsBatch(service: service, samples: samples))
        return try await SignedEnvelope.sign(claims, with: signer)
    }

    @Test(arguments: [SignatureAlgorithm.es256, .rs256])
    func claimsSizeIsExactlyWhatTheSignerWrites(_ algorithm: SignatureAlgorithm) async throws {
        let signer = try TestSigner.make(algorithm)
        let budget = budget(signer)
        for count in [0, 1, 2, 17] {
            let batch = samples(count)
            let sizes = try batch.map { try #require(EnvelopeBudget.sampleBytes($0)) }
            let signed = try await envelope(batch, signer)
            let payload = try #require(Base64URL.decode(signed.payload))
            #expect(budget.claimsBytes(samples: sizes) == payload.count, "\(count) samples")
        }
    }

    @Test(arguments: [SignatureAlgorithm.es256, .rs256], [SignedEnvelope.defaultMaximumSize, 16 * 1024])
    func batchesCutToTheBudgetSignWithinTheLimitAndAreFull(_ algorithm: SignatureAlgorithm, limit: Int) async throws {
        let signer = try TestSigner.make(algorithm)
        let budget = budget(signer, limit: limit)
        // 700 samples: several times what one envelope may carry at either limit.
        let all = samples(700)
        let (batches, unfit) = budget.split(all)
        #expect(unfit.isEmpty)
        #expect(batches.count > 1)
        #expect(batches.flatMap { $0 } == all, "every sample once, in order")
        for (index, batch) in batches.enumerated() {
            let signed = try await envelope(batch, signer)
            let size = signed.serialized().count
            #expect(size <= limit, "batch \(index): \(size) bytes")
            // Reads back under the limit as a receiver would.
            #expect(throws: Never.self) { try SignedEnvelope(parsing: signed.serialized(), maximumSize: limit) }
            if index < batches.count - 1 {
                // Full: one more sample would not have fitted the budget.
                let next = batches[index + 1][0]
                let sizes = (batch + [next]).compactMap(EnvelopeBudget.sampleBytes)
                #expect(budget.claimsBytes(samples: sizes) > budget.maximumClaimsBytes)
                // Little is kept in reserve: the largest signature and nonce, a small margin, and less than
                // one sample (at most about 1.2 KB in base64 here).
                #expect(size > limit - 3000, "batch \(index): \(size) bytes")
            }
        }
    }

    @Test func samplesThatCanNeverBeSentAreUnfit() throws {
        let signer = try TestSigner.make(.es256)
        let budget = budget(signer)
        let huge = MetricSample(
            timestamp: "2026-11-21T10:00:00.000Z", metricType: "application",
            values: ["blob": .string(String(repeating: "x", count: budget.roomForSamples))])
        let notANumber = MetricSample(
            timestamp: "2026-11-21T10:00:00.000Z", metricType: "system", values: ["memory_percent": .number(.nan)])
        #expect(EnvelopeBudget.sampleBytes(notANumber) == nil)
        let fine = samples(3)
        let (batches, unfit) = budget.split([fine[0], huge, fine[1], notANumber, fine[2]])
        #expect(batches == [fine])
        #expect(unfit == [huge, notANumber])
        #expect(!budget.fits(sampleOf: EnvelopeBudget.sampleBytes(huge) ?? 0))
    }
}
