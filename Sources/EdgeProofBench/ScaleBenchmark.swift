import Crypto
import EdgeProofCollector
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofStorage
import Foundation

/// `edgeproof bench scale`, one point: the collector's verification and storage (``EnvelopeIntake``
/// and the group-committed records file, exactly as the collector runs them) with an allowlist of
/// `agents` entries loaded from a JSON file and a replay cache already holding `cachedNonces`
/// unexpired nonces, as after `cachedNonces / nonce lifetime` envelopes per second. Meant to run in a
/// process of its own, so that its resident memory is the collector core's.
public struct ScaleBenchmark: Sendable {
    public var agents: Int
    /// Agents (of `agents`) that send the measured envelopes, spread over the allowlist.
    public var senders: Int
    public var envelopes: Int
    public var cachedNonces: Int
    public var evidence: Evidence
    public var loader: Loader

    public init(
        agents: Int, senders: Int = 100, envelopes: Int = 4000, cachedNonces: Int = 300_000,
        evidence: Evidence = .trustBlocks, loader: Loader = .collector
    ) {
        self.agents = agents
        self.senders = max(1, min(senders, agents))
        self.envelopes = envelopes
        self.cachedNonces = cachedNonces
        self.evidence = evidence
        self.loader = loader
    }

    public struct Point: Sendable, Codable {
        public var agents: Int
        public var perSecond: Double
        public var allowlistLoadSeconds: Double
        public var residentMegabytes: Double
        /// The peak from just before the allowlist is read to the end of the run (the file is written
        /// before that, and its writing does not count).
        public var peakResidentMegabytes: Double
        /// The peak from just before the allowlist is read until it is loaded.
        public var loadPeakResidentMegabytes: Double
        public var cachedNonces: Int
        public var accepted: Int
    }

    public func run() async throws -> Point {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-scale")
        defer { work.remove() }

        // The allowlist: `senders` agents with software keys (benchmark load only), the rest with
        // keys nobody uses, all in one JSON file loaded as the collector loads it.
        let created = Timestamp.string(from: Date())
        let everywhere = [AllowedPlace(region: "US", state: "California")]
        let template = evidence == .trustBlocks ? Self.trustBlockTemplate(attestedAt: created) : nil
        let stride = max(1, agents / senders)
        var signers: [(name: String, signer: SoftwareBenchmarkSigner)] = []
        var entries: [AllowlistEntry] = []
        entries.reserveCapacity(agents)
        for index in 0..<agents {
            let name = String(format: "agent-%06d", index)
            let key: AgentPublicKey
            if index % stride == 0, signers.count < senders {
                let signer = try SoftwareBenchmarkSigner(.es256)
                signers.append((name, signer))
                key = try signer.publicKey
            } else {
                key = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
            }
            let trust = template.map { Self.trustBlock(template: $0, ekSeed: index) }
            entries.append(
                AllowlistEntry(name: name, key: key, createdAt: created, allowedPlaces: everywhere, trust: trust))
        }
        let allowlistFile = AllowlistFile(path: work.appending("allowlist.json").path)
        try Self.writeAllowlist(entries, to: allowlistFile.url)
        entries = []
        FreedMemory.release()
        ResidentMemory.resetPeak()
        let clock = ContinuousClock()
        var start = clock.now
        let allowlist = try loader.load(allowlistFile)
        let allowlistLoadSeconds = seconds(clock.now - start)
        let loadPeak = ResidentMemory.current().peak

        // A full replay cache: unexpired nonces of earlier envelopes.
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        let cache = ReplayCache()
        let now = Date()
        let someKey = signers[0].signer.publicKeyHash
        var remembered: [RecordedNonceUse] = []
        remembered.reserveCapacity(cachedNonces)
        for index in 0..<cachedNonces {
            let nonce = try authority.validate(authority.issue(for: someKey, now: now).token, for: someKey, now: now)
            remembered.append(
                RecordedNonceUse(
                    id: nonce.id, expiresAt: nonce.expiresAt, fingerprint: EnvelopeFingerprint(signature: "\(index)"),
                    storedAt: now))
        }
        cache.remember(remembered, now: now)
        remembered = []
        FreedMemory.release()  // as the collector does after rebuilding its cache

        // Envelopes signed before the clock starts, round robin over the senders.
        var prepared: [(agent: String, topic: String, payload: Data)] = []
        let topics = TopicTree()
        for index in 0..<envelopes {
            let (name, signer) = signers[index % signers.count]
            let nonce = authority.issue(for: signer.publicKeyHash).token
            let claims = BenchmarkClaims.make(agent: name, keyHash: signer.publicKeyHash, nonce: nonce)
            prepared.append((name, topics.verifiedMetrics(name), try await SignedEnvelope.sign(claims, with: signer).serialized()))
        }

        let store = EnvelopeStore(
            intake: EnvelopeIntake(
                collectorID: "collector-bench", nonceAuthority: authority, replayCache: cache,
                maximumEnvelopeBytes: SignedEnvelope.defaultMaximumSize),
            records: GroupCommitLog(
                file: try RotatingJSONLinesFile(directory: work.appending("records"), prefix: "records")))
        defer { try? store.records.close() }

        // As the collector's envelope workers: one per core.
        start = clock.now
        let items = prepared.map { EnvelopeStore.Item(payload: $0.payload, topic: $0.topic, agent: $0.agent, receivedAt: Date()) }
        let accepted = await store.storeInLanes(
            items, lanes: ProcessInfo.processInfo.activeProcessorCount, allowlist: allowlist
        ).stored
        let perSecond = Double(accepted) / seconds(clock.now - start)
        let memory = ResidentMemory.current()
        return Point(
            agents: agents, perSecond: perSecond, allowlistLoadSeconds: allowlistLoadSeconds,
            residentMegabytes: memory.current, peakResidentMegabytes: memory.peak,
            loadPeakResidentMegabytes: loadPeak, cachedNonces: cache.count,
            accepted: accepted)
    }
}

/// This process's resident memory (VmRSS) and its peak (VmHWM) in MiB, from /proc/self/status.
public enum ResidentMemory {
    public static func current() -> (current: Double, peak: Double) {
        of(statusFile: "/proc/self/status") ?? (0, 0)
    }

    /// Starts this process's peak (VmHWM) again from its current resident size (Linux `clear_refs` 5), so
    /// that a later peak is that of what follows.
    public static func resetPeak() {
        try? Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))
    }

    /// Of process `pid`; nil when it is gone.
    public static func of(pid: Int32) -> (current: Double, peak: Double)? {
        of(statusFile: "/proc/\(pid)/status")
    }

    private static func of(statusFile: String) -> (current: Double, peak: Double)? {
        guard let text = try? String(contentsOfFile: statusFile, encoding: .utf8) else { return nil }
        func kilobytes(_ field: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return 0 }
            return Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return (kilobytes("VmRSS") / 1024, kilobytes("VmHWM") / 1024)
    }
}
