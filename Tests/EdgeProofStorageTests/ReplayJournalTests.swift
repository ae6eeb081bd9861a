import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("Replay journal on disk")
struct ReplayJournalTests {
    private let keyHash = PublicKeyHash(subjectPublicKeyInfo: Array("agent key".utf8))

    @Test("a nonce consumed before a restart is still a replay after it")
    func survivesRestart() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = directory.appending("replay.journal")
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        let nonces = try (0..<10).map { _ in try authority.validate(authority.issue(for: keyHash).token, for: keyHash) }

        do {
            let cache = try ReplayCache(storage: try ReplayJournal(url: url))
            for nonce in nonces { #expect(try cache.consume(nonce)) }
        }
        let restarted = try ReplayCache(storage: try ReplayJournal(url: url))
        #expect(restarted.count == 10)
        for nonce in nonces { #expect(try !restarted.consume(nonce)) }
    }

    @Test("a line torn by a crash is ignored and later appends still load")
    func ignoresTornLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = directory.appending("replay.journal")
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        let first = try authority.validate(authority.issue(for: keyHash).token, for: keyHash)
        #expect(try ReplayCache(storage: try ReplayJournal(url: url)).consume(first))
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("01:abcdef".utf8))
        try handle.close()

        let loaded = try ReplayJournal(url: url).loadConsumed()
        #expect(loaded.map(\.id) == [first.id])
    }

    @Test("compaction keeps only live nonces and appends continue in the new file")
    func compacts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = directory.appending("replay.journal")
        let journal = try ReplayJournal(url: url)
        let now = Date()
        let expired = ConsumedNonce(id: NonceID(keyID: 1, high: 1, low: 1), expiresAt: now.addingTimeInterval(-10))
        let live = ConsumedNonce(id: NonceID(keyID: 1, high: 2, low: 2), expiresAt: now.addingTimeInterval(100))
        let later = ConsumedNonce(id: NonceID(keyID: 2, high: 3, low: 3), expiresAt: now.addingTimeInterval(200))
        try journal.append(expired)
        try journal.append(live)
        try journal.compact(keeping: [live])
        try journal.append(later)
        #expect(try journal.loadConsumed().map(\.id) == [live.id, later.id])
    }

    @Test("an unwritable journal location fails with the path in the message")
    func reportsUnwritableLocation() {
        do {
            _ = try ReplayJournal(url: URL(fileURLWithPath: "/nonexistent-dir/replay.journal"))
            Issue.record("opened a journal in a missing directory")
        } catch {
            #expect(error.description.contains("/nonexistent-dir/replay.journal"))
        }
    }
}
