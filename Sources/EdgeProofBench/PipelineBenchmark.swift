import EdgeProofCollector
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofOTLP
import EdgeProofStorage
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

    /// Signs `envelopes` envelopes (benchmark software key) with nonces from a fresh nonce key. `fence`: the
    /// agent's place carries this fence and its envelopes a GNSS fix inside it, with the location
    /// requirements checked too (source, accuracy, fix age, receiver).
    public init(algorithm: SignatureAlgorithm, envelopes count: Int, fence: Geofence? = nil) async throws {
        self.algorithm = algorithm
        signer = try SoftwareBenchmarkSigner(algorithm)
        var allowlist = Allowlist()
        var entry = AllowlistEntry(
            name: Self.agent, key: try signer.publicKey, createdAt: Timestamp.string(from: Date()),
            allowedPlaces: [AllowedPlace(region: "US", state: "California", fence: fence)])
        if fence != nil {
            entry.locationRequirements = LocationRequirement(
                minimumSource: .gnss, maximumAccuracyMeters: 50, maximumFixAgeSeconds: 3600,
                approvedSensors: [SensorPattern(driver: "NMEA*")])
        }
        try allowlist.add(entry)
        self.allowlist = allowlist
        authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        var envelopes: [Data] = []
        for _ in 0..<max(1, count) {
            let nonce = authority.issue(for: signer.publicKeyHash).token
            let claims = BenchmarkClaims.make(
                agent: Self.agent, keyHash: signer.publicKeyHash, nonce: nonce,
                geolocation: fence == nil ? nil : BenchmarkClaims.gnssFix())
            envelopes.append(try await SignedEnvelope.sign(claims, with: signer).serialized())
        }
        self.envelopes = envelopes
        work = try TemporaryDirectory(prefix: "edgeproof-bench-verify")
    }

    deinit {
        work.remove()
    }

    public var envelopeCount: Int { envelopes.count }

    /// The collector's checks with an empty replay cache, so that the same envelopes are new again.
    private func freshIntake(writesOTLP: Bool = false) -> EnvelopeIntake {
        EnvelopeIntake(
            collectorID: "collector-bench", nonceAuthority: authority, replayCache: ReplayCache(),
            maximumEnvelopeBytes: SignedEnvelope.defaultMaximumSize, writesOTLP: writesOTLP)
    }

    /// Only the checks and the record encoding (``EnvelopeIntake/check(_:topic:agent:allowlist:receivedAt:)``)
    /// for every envelope, one after the other on this thread; no file. Envelopes checked per second.
    public func checkOnly() throws -> Double {
        let intake = freshIntake()
        let topic = TopicTree().verifiedMetrics(Self.agent)
        let clock = ContinuousClock()
        let start = clock.now
        for envelope in envelopes {
            guard case .accepted(let accepted) = intake.check(
                envelope, topic: topic, agent: Self.agent, allowlist: allowlist, receivedAt: Date())
            else { throw BenchmarkError("the pipeline refused a benchmark envelope") }
            intake.stored(accepted)
        }
        return Double(envelopes.count) / seconds(clock.now - start)
    }

    /// Only the OTLP JSON line of every envelope (``OTLPRecord``), from envelopes parsed beforehand. Lines per second.
    public func otlpLinesOnly() throws -> Double {
        let parsed = try envelopes.map { try SignedEnvelope(parsing: $0) }
        let clock = ContinuousClock()
        let start = clock.now
        var bytes = 0
        for envelope in parsed {
            bytes &+= try OTLPRecord.line(for: envelope, collector: "collector-bench", receivedAt: "2026-12-03T10:00:00.000Z", trust: nil).count
        }
        guard bytes > 0 else { throw BenchmarkError("no OTLP line") }
        return Double(parsed.count) / seconds(clock.now - start)
    }

    /// Runs every envelope through the pipeline as the collector's envelope workers do, `lanes` of
    /// them at once (1: one core verifies while the writer thread fsyncs beside it): batches of
    /// ``Collector/maximumBatch`` envelopes through ``EnvelopeStore/run(batches:allowlist:answer:)``, each batch
    /// checked while the previous one is written. Returns envelopes stored per second.
    /// With `otlp`, each accepted envelope is also written as an OTLP JSON line, to its own group-committed
    /// file beside the records (the collector's `otlp:`).
    public func round(lanes: Int, otlp: Bool = false) async throws -> Double {
        let directory = work.appending(UUID().uuidString)
        let store = EnvelopeStore(
            intake: freshIntake(writesOTLP: otlp),
            records: GroupCommitLog(file: try RotatingJSONLinesFile(directory: directory, prefix: "records")),
            otlp: otlp ? GroupCommitLog(file: try RotatingJSONLinesFile(directory: directory, prefix: "metrics")) : nil)
        let topic = TopicTree().verifiedMetrics(Self.agent)
        let clock = ContinuousClock()
        let start = clock.now
        // Items made inside the timed part, as the collector makes one per message.
        let items = envelopes.map { EnvelopeStore.Item(payload: $0, topic: topic, agent: Self.agent, receivedAt: Date()) }
        let (stored, refused) = await store.storeInLanes(items, lanes: lanes, allowlist: allowlist)
        if let refused { throw BenchmarkError("the pipeline did not store a benchmark envelope: \(refused)") }
        let rate = Double(stored) / seconds(clock.now - start)
        try store.records.close()
        try store.otlp?.close()
        try? FileManager.default.removeItem(at: directory)
        return rate
    }
}
