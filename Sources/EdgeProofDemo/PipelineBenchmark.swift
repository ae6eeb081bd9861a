import EdgeProofCollector
import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation

/// `edgeproof bench verify`, the collector's pipeline: ``EnvelopeIntake`` (decode, allowlist lookup,
/// signature, nonce check and claim, geographic policy, record encoding) and the group-committed
/// records file (``GroupCommitLog``, fsync on, a record durable before its envelope counts), on
/// envelopes signed beforehand with real nonces. Each round starts with an empty replay cache, so the
/// same envelopes are new again.
public final class PipelineBenchmark: Sendable {
    public let algorithm: SignatureAlgorithm
    public let signer: SoftwareBenchmarkSigner
    private let allowlist: Allowlist
    private let authority: NonceAuthority
    private let envelopes: [Data]
    private let work: TemporaryDirectory
    private static let agent = "bench-agent"

    /// Signs `envelopes` envelopes (benchmark software key) with nonces from a fresh nonce key.
    public init(algorithm: SignatureAlgorithm, envelopes count: Int) async throws {
        self.algorithm = algorithm
        signer = try SoftwareBenchmarkSigner(algorithm)
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: Self.agent, key: try signer.publicKey, createdAt: Timestamp.string(from: Date()),
                allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        self.allowlist = allowlist
        authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        var envelopes: [Data] = []
        for _ in 0..<max(1, count) {
            let nonce = authority.issue(for: signer.publicKeyHash).token
            let claims = BenchmarkClaims.make(agent: Self.agent, keyHash: signer.publicKeyHash, nonce: nonce)
            envelopes.append(try await SignedEnvelope.sign(claims, with: signer).serialized())
        }
        self.envelopes = envelopes
        work = try TemporaryDirectory(prefix: "edgeproof-bench-verify")
    }

    deinit {
        work.remove()
    }

    public var envelopeCount: Int { envelopes.count }

    /// Only the checks and the record encoding (``EnvelopeIntake/check(_:topic:agent:allowlist:receivedAt:)``)
    /// for every envelope, one after the other on this thread; no file. Envelopes checked per second.
    public func checkOnly() throws -> Double {
        let intake = EnvelopeIntake(
            collectorID: "collector-bench", nonceAuthority: authority, replayCache: ReplayCache(),
            maximumEnvelopeBytes: SignedEnvelope.defaultMaximumSize)
        let topic = TopicTree().verifiedMetrics(Self.agent)
        let clock = ContinuousClock()
        let start = clock.now
        for envelope in envelopes {
            guard case .accepted(let accepted) = intake.check(
                envelope, topic: topic, agent: Self.agent, allowlist: allowlist, receivedAt: Date())
            else { throw DemoError("the pipeline refused a benchmark envelope") }
            intake.stored(accepted)
        }
        return Double(envelopes.count) / seconds(clock.now - start)
    }

    /// Runs every envelope through the pipeline on `lanes` concurrent tasks (1: one core verifies,
    /// while the writer thread fsyncs batches beside it), and returns envelopes stored per second.
    public func round(lanes: Int) async throws -> Double {
        let intake = EnvelopeIntake(
            collectorID: "collector-bench", nonceAuthority: authority, replayCache: ReplayCache(),
            maximumEnvelopeBytes: SignedEnvelope.defaultMaximumSize)
        let records = GroupCommitLog(
            file: try RotatingJSONLinesFile(directory: work.appending(UUID().uuidString), prefix: "records"))
        let topic = TopicTree().verifiedMetrics(Self.agent)
        let (envelopes, allowlist) = (envelopes, allowlist)
        let lanes = max(1, lanes)
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    try await Self.process(
                        envelopes, lane: lane, of: lanes, topic: topic, intake: intake, allowlist: allowlist, records: records)
                }
            }
            try await group.waitForAll()
        }
        let rate = Double(envelopes.count) / seconds(clock.now - start)
        try records.close()
        return rate
    }

    /// One lane: checks its share of the envelopes one after the other, keeping up to 256 records
    /// awaiting their batch's fsync.
    private static func process(
        _ envelopes: [Data], lane: Int, of lanes: Int, topic: String, intake: EnvelopeIntake, allowlist: Allowlist,
        records: GroupCommitLog
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { pending in
            var waiting = 0
            for index in stride(from: lane, to: envelopes.count, by: lanes) {
                if waiting >= 256 {
                    try await pending.next()
                    waiting -= 1
                }
                let verdict = intake.check(envelopes[index], topic: topic, agent: agent, allowlist: allowlist, receivedAt: Date())
                guard case .accepted(let accepted) = verdict else {
                    throw DemoError("the pipeline refused a benchmark envelope: \(verdict)")
                }
                waiting += 1
                pending.addTask {
                    try await records.append(accepted.recordLine)
                    intake.stored(accepted)
                }
            }
            try await pending.waitForAll()
        }
    }
}
