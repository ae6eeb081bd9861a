import EdgeProofCollector
import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("EnvelopeStore: batches checked while earlier ones are written")
struct EnvelopeStoreTests {
    @Test("every batch is answered once, after its records are in the file, with several batches unwritten at a time")
    func answersEveryBatchOnceItsRecordsAreDurable() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-store")
        defer { directory.remove() }
        let signer = TestSigner()
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: "agent-001", key: try signer.publicKey, createdAt: Timestamp.string(from: Date()),
                allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        let records = try RotatingJSONLinesFile(directory: directory.appending("records"), prefix: "records")
        let store = EnvelopeStore(
            intake: EnvelopeIntake(
                collectorID: "collector-1", nonceAuthority: authority, replayCache: ReplayCache(),
                maximumEnvelopeBytes: SignedEnvelope.defaultMaximumSize),
            records: GroupCommitLog(file: records))

        // More batches than may be unwritten at once; the last one refused (a replay of the first).
        let batchCount = EnvelopeStore.maximumUnwrittenBatches * 3
        var batches: [[EnvelopeStore.Item]] = []
        for _ in 0..<batchCount {
            var batch: [EnvelopeStore.Item] = []
            for _ in 0..<5 {
                let envelope = try await signer.envelope(nonce: authority.issue(for: signer.publicKeyHash).token)
                batch.append(
                    EnvelopeStore.Item(
                        payload: Data(try envelope.serialized()), topic: topics.verifiedMetrics("agent-001"),
                        agent: "agent-001", receivedAt: Date()))
            }
            batches.append(batch)
        }
        batches.append([batches[0][0]])

        var next = 0
        var answered: [[EnvelopeStore.Outcome]] = []
        var linesAtAnswer: [Int] = []
        await store.run(
            batches: {
                guard next < batches.count else { return nil }
                defer { next += 1 }
                return batches[next]
            },
            allowlist: { allowlist },
            answer: { _, outcomes in
                answered.append(outcomes)
                linesAtAnswer.append(Self.lineCount(in: directory.appending("records")))
            })
        try store.records.close()

        #expect(answered.count == batches.count)
        let stored = answered.flatMap { $0 }.filter { if case .stored = $0 { true } else { false } }.count
        #expect(stored == batchCount * 5)
        let replays = answered.flatMap { $0 }.filter { outcome in
            if case .storedAlready(let failure) = outcome { failure.reason == .nonceReplayed } else { false }
        }
        #expect(replays.count == 1)
        // A batch of stored envelopes is only answered once its lines are in the file.
        var storedSoFar = 0
        for (outcomes, lines) in zip(answered, linesAtAnswer) {
            storedSoFar += outcomes.filter { if case .stored = $0 { true } else { false } }.count
            #expect(lines >= storedSoFar)
        }
    }

    /// Lines in the records files of `directory`, the one being written included.
    private static func lineCount(in directory: URL) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".jsonl.open") }.reduce(0) { count, name in
            let data = (try? Data(contentsOf: directory.appending(path: name))) ?? Data()
            return count + data.filter { $0 == UInt8(ascii: "\n") }.count
        }
    }
}
