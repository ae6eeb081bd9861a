import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Synchronization
import Testing

@Suite struct EnvelopeSpoolTests {
    func batch(_ label: String, padding: Int = 0) -> EnvelopeSpool.UnsignedBatch {
        EnvelopeSpool.UnsignedBatch(
            geographicRegion: GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: "agent-001"),
                samples: [
                    MetricSample(
                        timestamp: "2026-11-21T10:00:00.000Z", metricType: "system",
                        values: ["label": .string(label), "pad": .string(String(repeating: "x", count: padding))])
                ]))
    }

    func label(_ entry: EnvelopeSpool.Entry) -> String? {
        entry.batch.metrics.samples.first?.values["label"]?.stringValue
    }

    @Test func keepsEntriesInOrderAcrossRestart() async throws {
        let directory = try TemporaryDirectory(prefix: "spool")
        defer { directory.remove() }
        do {
            let spool = try EnvelopeSpool(directory: directory.url)
            for index in 0..<12 { try await spool.enqueue(batch("b\(index)")) }
            let signed = EnvelopeSpool.SignedForm(envelope: "{}", nonce: "n-3", nonceExpiresAt: "2026-11-21T10:05:00.000Z")
            let third = try #require(await spool.pending().dropFirst(3).first)
            try await spool.recordSigned([(third.sequence, signed)])
        }
        let reopened = try EnvelopeSpool(directory: directory.url)
        let pending = await reopened.pending()
        #expect(pending.compactMap(label) == (0..<12).map { "b\($0)" })
        #expect(pending[3].nonce == "n-3")
        #expect(pending[3].sendCount == 1)
        #expect(pending.allSatisfy { $0.sequence > 0 })

        // New entries continue after the highest sequence on disk.
        let next = try #require(try await reopened.enqueue(batch("b12")))
        #expect(next.sequence > pending.last!.sequence)
        #expect(try await reopened.remove(nonce: "n-3") != nil)
        #expect(await reopened.pending().compactMap(label) == (0...12).filter { $0 != 3 }.map { "b\($0)" })
        let again = try EnvelopeSpool(directory: directory.url)
        #expect(await again.count == 12)
    }

    @Test func dropsOldestWhenFullAndCountsEachDrop() async throws {
        let directory = try TemporaryDirectory(prefix: "spool")
        defer { directory.remove() }
        let events = Mutex<[EnvelopeSpool.Event]>([])
        let spool = try EnvelopeSpool(
            directory: directory.url, limits: .init(maximumBytes: 4000, whenFull: .dropOldest)
        ) { event in events.withLock { $0.append(event) } }
        for index in 0..<10 { try await spool.enqueue(batch("b\(index)", padding: 600)) }
        let pending = await spool.pending()
        #expect(await spool.totalBytes <= 4000)
        #expect(pending.count < 10)
        #expect(pending.last.flatMap(label) == "b9")
        #expect(await spool.droppedCount == 10 - pending.count)
        #expect(events.withLock { $0.count } == 10 - pending.count)
        #expect(events.withLock { $0.allSatisfy { if case .dropped(_, "full_drop_oldest", _, _) = $0 { true } else { false } } })
    }

    @Test func dropsNewestWhenFullIfConfigured() async throws {
        let directory = try TemporaryDirectory(prefix: "spool")
        defer { directory.remove() }
        let spool = try EnvelopeSpool(
            directory: directory.url, limits: .init(maximumBytes: 4000, whenFull: .dropNewest))
        var accepted = 0
        for index in 0..<10 where try await spool.enqueue(batch("b\(index)", padding: 600)) != nil { accepted += 1 }
        #expect(await spool.pending().first.flatMap(label) == "b0")
        #expect(await spool.droppedCount == 10 - accepted)
        #expect(accepted < 10)
    }

    @Test func dropsEntriesOlderThanMaxAge() async throws {
        let directory = try TemporaryDirectory(prefix: "spool")
        defer { directory.remove() }
        let spool = try EnvelopeSpool(directory: directory.url, limits: .init(maximumAge: .seconds(100)))
        let start = Date()
        try await spool.enqueue(batch("old"), now: start.addingTimeInterval(-120))
        try await spool.enqueue(batch("recent"), now: start.addingTimeInterval(-30))
        #expect(try await spool.dropExpired(now: start) == 1)
        #expect(await spool.pending().compactMap(label) == ["recent"])
        #expect(await spool.droppedCount == 1)
    }

    @Test func quarantinesUnreadableFiles() async throws {
        let directory = try TemporaryDirectory(prefix: "spool")
        defer { directory.remove() }
        do {
            let spool = try EnvelopeSpool(directory: directory.url)
            try await spool.enqueue(batch("good"))
        }
        try Data("not json".utf8).write(to: directory.appending("00000000000000000000-garbage.json"))
        let events = Mutex<[EnvelopeSpool.Event]>([])
        let spool = try EnvelopeSpool(directory: directory.url) { event in events.withLock { $0.append(event) } }
        #expect(await spool.pending().compactMap(label) == ["good"])
        #expect(events.withLock { $0.count } == 1)
        #expect(FileManager.default.fileExists(atPath: directory.appending("00000000000000000000-garbage.json.corrupt").path))
    }
}

@Suite struct EnvelopeSpoolSplitTests {
    private let spoolTests = EnvelopeSpoolTests()

    @Test func splitReplacesAnEntryByItsPartsAtTheEndOfTheQueueDurably() async throws {
        let directory = try TemporaryDirectory(prefix: "spool-split")
        defer { directory.remove() }
        do {
            let spool = try EnvelopeSpool(directory: directory.url)
            let big = try #require(try await spool.enqueue(spoolTests.batch("big")))
            try await spool.enqueue(spoolTests.batch("after"))
            let parts = try await spool.split(
                sequence: big.sequence, into: [spoolTests.batch("part1"), spoolTests.batch("part2")])
            #expect(parts.map(spoolTests.label) == ["part1", "part2"])
            #expect(parts.allSatisfy { $0.sequence > big.sequence && $0.signed == nil && $0.sendCount == 0 })
            #expect(await spool.pending().map(spoolTests.label) == ["after", "part1", "part2"])
            // Gone already: nothing happens.
            #expect(try await spool.split(sequence: big.sequence, into: [spoolTests.batch("again")]).isEmpty)
        }
        let reopened = try EnvelopeSpool(directory: directory.url)
        #expect(await reopened.pending().map(spoolTests.label) == ["after", "part1", "part2"])
    }

    @Test func discardDropsAnEntryAndReportsWhy() async throws {
        let directory = try TemporaryDirectory(prefix: "spool-discard")
        defer { directory.remove() }
        let events = Mutex<[EnvelopeSpool.Event]>([])
        let spool = try EnvelopeSpool(directory: directory.url) { event in events.withLock { $0.append(event) } }
        let entry = try #require(try await spool.enqueue(spoolTests.batch("doomed")))
        try await spool.enqueue(spoolTests.batch("kept"))
        try await spool.discard(sequence: entry.sequence, reason: "unsendable")
        #expect(await spool.pending().map(spoolTests.label) == ["kept"])
        #expect(await spool.droppedCount == 1)
        let reported = events.withLock { $0 }
        #expect(reported.count == 1)
        if case .dropped(let sequence, let reason, let samples, _)? = reported.first {
            #expect(sequence == entry.sequence && reason == "unsendable" && samples == 1)
        } else {
            Issue.record("expected a drop event, got \(reported)")
        }
        #expect(await (try EnvelopeSpool(directory: directory.url)).count == 1)
    }
}

@Suite struct EnvelopeSpoolSignatureFileTests {
    private let spoolTests = EnvelopeSpoolTests()

    @Test func loadsAnEntryFileWrittenByThePreviousVersion() async throws {
        let directory = try TemporaryDirectory(prefix: "spool-old")
        defer { directory.remove() }
        // As the version before signature files wrote it: the signed form inside the entry file.
        let old = """
            {"batch":{"geographic_region":{"city":"Santa Clara","region":"US","state":"California"},\
            "metrics":{"samples":[{"metric_type":"system","timestamp":"2026-11-21T10:00:00.000Z",\
            "values":{"label":"old"}}],"service":{"instance_id":"agent-001","name":"edgeproof-agent",\
            "version":"1.0.0"}}},"enqueued_at":"2099-11-21T10:00:00.000Z","send_count":2,"sequence":41,\
            "signed":{"envelope":"{}","nonce":"n-old","nonce_expires_at":"2099-11-21T10:05:00.000Z"}}
            """
        try Data(old.utf8).write(to: directory.appending("00000000000000000041-20991121T100000000Z.json"))
        let spool = try EnvelopeSpool(directory: directory.url, limits: .init(maximumAge: .seconds(3_153_600_000)))
        let entry = try #require(await spool.pending().first)
        #expect(entry.sequence == 41 && entry.sendCount == 2 && entry.nonce == "n-old" && spoolTests.label(entry) == "old")
        // A newer signature overrides the old file's, and survives a restart.
        let form = EnvelopeSpool.SignedForm(envelope: "{}", nonce: "n-new", nonceExpiresAt: "2099-11-21T10:06:00.000Z")
        #expect(try await spool.recordSigned([(41, form)]).map(\.nonce) == ["n-new"])
        let reopened = try EnvelopeSpool(directory: directory.url, limits: .init(maximumAge: .seconds(3_153_600_000)))
        let again = try #require(await reopened.pending().first)
        #expect(again.nonce == "n-new" && again.sendCount == 1)
        #expect(try await reopened.enqueue(spoolTests.batch("next"))?.sequence == 42)
    }

    @Test func signaturesOfAGroupAreOneFileThatGoesWithItsLastEntry() async throws {
        let directory = try TemporaryDirectory(prefix: "spool-group")
        defer { directory.remove() }
        func signatureFiles() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("signed-") }.sorted()
        }
        let spool = try EnvelopeSpool(directory: directory.url)
        var sequences: [UInt64] = []
        for index in 0..<4 { sequences.append(try #require(try await spool.enqueue(spoolTests.batch("b\(index)"))).sequence) }
        let forms = sequences.map {
            EnvelopeSpool.SignedForm(envelope: "{}", nonce: "n-\($0)", nonceExpiresAt: "2099-11-21T10:05:00.000Z")
        }
        let stored = try await spool.recordSigned(Array(zip(sequences, forms).map { ($0, $1) }.prefix(3)))
        #expect(stored.map(\.sendCount) == [1, 1, 1])
        #expect(try signatureFiles().count == 1)
        // Re-signing one moves it to a newer file; the first file stays for the other two.
        let fresh = EnvelopeSpool.SignedForm(envelope: "{}", nonce: "n-fresh", nonceExpiresAt: "2099-11-21T10:09:00.000Z")
        try await spool.recordSigned([(sequences[0], fresh)])
        #expect(try signatureFiles().count == 2)
        #expect(await spool.noteResend(sequence: sequences[1])?.sendCount == 2)
        // Removed without a sync of their own, then synced once: they do not come back.
        try await spool.remove(nonce: "n-\(sequences[1])", durably: false)
        try await spool.remove(nonce: "n-\(sequences[2])", durably: false)
        try await spool.sync()
        #expect(try signatureFiles().count == 1)
        let reopened = try EnvelopeSpool(directory: directory.url)
        #expect(await reopened.pending().map(\.nonce) == ["n-fresh", nil])
        #expect(await reopened.pending().first?.sendCount == 1)
        #expect(try await reopened.remove(nonces: ["n-fresh"]).count == 1)
        #expect(try signatureFiles().isEmpty)
        #expect(await (try EnvelopeSpool(directory: directory.url)).pending().compactMap(spoolTests.label) == ["b3"])
    }

    @Test func aSequenceNamedInASignatureFileIsNeverGivenToANewBatch() async throws {
        let directory = try TemporaryDirectory(prefix: "spool-reuse")
        defer { directory.remove() }
        let spool = try EnvelopeSpool(directory: directory.url)
        let first = try #require(try await spool.enqueue(spoolTests.batch("first"))).sequence
        let second = try #require(try await spool.enqueue(spoolTests.batch("second"))).sequence
        try await spool.recordSigned([first, second].map {
            ($0, EnvelopeSpool.SignedForm(envelope: "{}", nonce: "n-\($0)", nonceExpiresAt: "2099-11-21T10:05:00.000Z"))
        })
        // The newest entry leaves; its line stays in the file the older one still uses.
        try await spool.remove(nonce: "n-\(second)")
        let reopened = try EnvelopeSpool(directory: directory.url)
        let added = try #require(try await reopened.enqueue(spoolTests.batch("new")))
        #expect(added.sequence > second)
        let again = try EnvelopeSpool(directory: directory.url)
        let entries = await again.pending()
        #expect(entries.map(spoolTests.label) == ["first", "new"])
        #expect(entries.map(\.nonce) == ["n-\(first)", nil], "the new batch must not inherit an old envelope")
    }

    @Test func aSignatureFileOutlivesItsEntriesUntilTheirRemovalIsSynced() async throws {
        let directory = try TemporaryDirectory(prefix: "spool-retire")
        defer { directory.remove() }
        func names(_ prefix: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(prefix) }.sorted()
        }
        let spool = try EnvelopeSpool(directory: directory.url)
        let sequence = try #require(try await spool.enqueue(spoolTests.batch("only"))).sequence
        let form = EnvelopeSpool.SignedForm(envelope: "{}", nonce: "n-only", nonceExpiresAt: "2099-11-21T10:05:00.000Z")
        try await spool.recordSigned([(sequence, form)])
        let entryFile = try #require(try names("0").first)
        let entryBytes = try Data(contentsOf: directory.appending(entryFile))
        try await spool.remove(nonce: "n-only", durably: false)
        // Until the directory is synced the entry's unlink may be lost in a crash: its signed form stays.
        #expect(try names("signed-").count == 1)
        try entryBytes.write(to: directory.appending(entryFile))  // as if the unlink had been lost
        let revived = try #require(await (try EnvelopeSpool(directory: directory.url)).pending().first)
        #expect(revived.nonce == "n-only" && revived.sendCount == 1, "resent as stored, never signed anew")
        try FileManager.default.removeItem(at: directory.appending(entryFile))
        try await spool.sync()
        #expect(try names("signed-").isEmpty)
    }
}
