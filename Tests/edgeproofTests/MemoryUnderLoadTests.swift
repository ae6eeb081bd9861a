import EdgeProofTesting
import Foundation
import Testing

/// Memory that grows with every envelope handled (a leak, a cache never pruned) under a steady load,
/// caught in about a minute: `bench soak` with a short nonce lifetime, so the collector's replay cache
/// is full after a few seconds and whatever grows after the warm-up grows without bound. The load is
/// software-key senders in a closed loop: as fast as this machine's path allows, with no backlog that
/// could grow anywhere (the real agent's spool grows when it samples faster than the path takes).
@Suite("memory under steady load")
struct MemoryUnderLoadTests {
    /// Growth after the warm-up allowed per 10,000 envelopes stored. Each component's bounded state is
    /// full by then, so this only leaves room for noise and settling (measured: under 1 MB per 10,000).
    /// The leak this was written for, finished envelope workers kept by the collector's task group,
    /// grew ~5.5 KB per envelope: 55 MB per 10,000.
    static let allowedMegabytesPer10kEnvelopes = 10.0

    @Test("the collector's and the gateway's memory stays flat under steady load once their caches are full")
    func collectorMemoryStaysFlatUnderSteadyLoad() async throws {
        let result = try await ProcessRunner.run(
            PackagePaths.edgeproofExecutable,
            [
                "bench", "soak", "--load", "software-keys", "--duration", "70s", "--warm-up", "20s", "--rate", "400",
                "--nonce-lifetime", "10", "--sample-every", "2s",
            ])
        #expect(result.status == 0, "\(result.standardError)")
        let lastLine = try #require(result.output.split(separator: "\n").last)
        let figures = try JSONDecoder().decode([String: Double].self, from: Data(lastLine.utf8))
        let stored = try #require(figures["envelopes_stored"])
        // A steady load: enough envelopes after the warm-up for a slope to mean something.
        #expect(stored >= 5000, "only \(stored) envelopes stored\n\(result.output)")
        #expect(figures["distinct_nonces"] == stored, "a nonce stored twice\n\(lastLine)")
        for component in ["collector", "gateway"] {
            let growth = try #require(figures["\(component)_growth_mb_per_10k_envelopes"], "\(lastLine)")
            #expect(
                growth < Self.allowedMegabytesPer10kEnvelopes,
                "\(component) grew \(growth) MB per 10,000 envelopes after the warm-up\n\(result.output)")
        }
    }
}
