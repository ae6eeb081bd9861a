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

    /// The collector's batch size: its envelope workers take up to this many queued envelopes at once.
    static let batchSize = 128

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

    /// Runs every envelope through the pipeline as the collector's envelope workers do, `lanes` of
    /// them at once (1: one core verifies while the writer thread fsyncs beside it): batches of
    /// ``batchSize`` envelopes through ``EnvelopeStore/run(batches:allowlist:answer:)``, each batch
    /// checked while the previous one is written. Returns envelopes stored per second.
    public func round(lanes: Int) async throws -> Double {
        let store = EnvelopeStore(
            intake: EnvelopeIntake(
                collectorID: "collector-bench", nonceAuthority: authority, replayCache: ReplayCache(),
                maximumEnvelopeBytes: SignedEnvelope.defaultMaximumSize),
            records: GroupCommitLog(
                file: try RotatingJSONLinesFile(directory: work.appending(UUID().uuidString), prefix: "records")))
        let topic = TopicTree().verifiedMetrics(Self.agent)
        let (envelopes, allowlist) = (envelopes, allowlist)
        let lanes = max(1, lanes)
        let clock = ContinuousClock()
        let start = clock.now
        let stored = try await withThrowingTaskGroup(of: Int.self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    let mine = Array(stride(from: lane, to: envelopes.count, by: lanes))
                    var next = 0
                    var stored = 0
                    var refused: EnvelopeStore.Outcome?
                    await store.run(
                        batches: {
                            guard next < mine.count else { return nil }
                            defer { next += Self.batchSize }
                            return mine[next..<min(mine.count, next + Self.batchSize)].map { index in
                                EnvelopeStore.Item(payload: envelopes[index], topic: topic, agent: Self.agent, receivedAt: Date())
                            }
                        },
                        allowlist: { allowlist },
                        answer: { _, outcomes in
                            for outcome in outcomes {
                                if case .stored = outcome { stored += 1 } else { refused = outcome }
                            }
                        })
                    if let refused { throw DemoError("the pipeline did not store a benchmark envelope: \(refused)") }
                    return stored
                }
            }
            return try await group.reduce(0, +)
        }
        let rate = Double(stored) / seconds(clock.now - start)
        try store.records.close()
        return rate
    }
}
