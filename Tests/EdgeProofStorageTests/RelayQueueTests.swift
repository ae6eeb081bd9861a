import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Synchronization
import Testing

@Suite("RelayQueue")
struct RelayQueueTests {
    typealias Queue = RelayQueue<String>

    @Test func elementsComeOutInOrderAndDoneOnesAreNotSentAgainAfterARestart() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        do {
            let queue = try Queue(directory: directory.url)
            try await queue.append((0..<10).map { "m\($0)" })
            let first = await queue.take(max: 4)
            #expect(first.map(\.element) == ["m0", "m1", "m2", "m3"])
            await queue.complete(first.map(\.sequence))
            // Taken but not acknowledged: in flight, so sent again after a crash.
            _ = await queue.take(max: 2)
            try await queue.checkpoint()
            // No close: as after SIGKILL.
        }
        let reopened = try Queue(directory: directory.url)
        let rest = await reopened.take(max: 100)
        #expect(rest.map(\.element) == (4..<10).map { "m\($0)" })
        #expect(await reopened.depth.messages == 6)
    }

    @Test func concurrentAppendsKeepSequenceOrderAndTheCursorNeverSkipsAnUnwrittenBatch() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        let queue = try Queue(directory: directory.url)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for batch in 0..<40 {
                group.addTask { try await queue.append((0..<5).map { "b\(batch)-\($0)" }) }
            }
            try await group.waitForAll()
        }
        let all = await queue.take(max: 1000)
        #expect(all.count == 200)
        #expect(all.map(\.sequence) == all.map(\.sequence).sorted())
        // Each batch stays together and in order.
        for batch in 0..<40 {
            let members = all.filter { $0.element.hasPrefix("b\(batch)-") }.map(\.element)
            #expect(members == (0..<5).map { "b\(batch)-\($0)" })
        }
    }

    @Test func aFullQueueDropsTheOldestAndCountsThem() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        let reports = Reports()
        let queue = try Queue(
            directory: directory.url, limits: .init(maximumBytes: 2_000, whenFull: .dropOldest),
            report: { reports.add($0, $1) })
        for index in 0..<100 { try await queue.append(["message-\(index)"]) }
        let depth = await queue.depth
        #expect(depth.bytes <= 2_000)
        let dropped = await queue.dropped["full_drop_oldest"] ?? 0
        #expect(dropped > 0)
        #expect(dropped + depth.messages == 100)
        #expect(reports.total("full_drop_oldest") == dropped)
        // The newest survive.
        #expect(await queue.take(max: 1000).last?.element == "message-99")
    }

    @Test func dropNewestRefusesWhatDoesNotFitAndKeepsTheOldest() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        let queue = try Queue(directory: directory.url, limits: .init(maximumBytes: 2_000, whenFull: .dropNewest))
        var taken = 0
        for index in 0..<100 { taken += try await queue.append(["message-\(index)"]) }
        #expect(taken < 100)
        #expect(await queue.dropped["full_drop_newest"] == 100 - taken)
        #expect(await queue.take(max: 1).first?.element == "message-0")
    }

    @Test func elementsOlderThanTheAgeLimitAreDroppedWhenTheyComeUp() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        let queue = try Queue(directory: directory.url, limits: .init(maximumAge: .seconds(60)))
        let start = Date()
        try await queue.append(["old"], now: start)
        try await queue.append(["new"], now: start.addingTimeInterval(100))
        let taken = await queue.take(max: 10, now: start.addingTimeInterval(120))
        #expect(taken.map(\.element) == ["new"])
        #expect(await queue.dropped["too_old"] == 1)
    }

    @Test func putBackReturnsElementsToTheHeadInOrder() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        let queue = try Queue(directory: directory.url)
        try await queue.append(["a", "b", "c", "d"])
        let taken = await queue.take(max: 2)
        await queue.putBack(taken.map(\.sequence))
        #expect(await queue.take(max: 10).map(\.element) == ["a", "b", "c", "d"])
    }

    @Test func doneSegmentsAreDeletedAtCheckpoint() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        let queue = try Queue(directory: directory.url, limits: .init(segmentBytes: 4096))
        for index in 0..<50 { try await queue.append([String(repeating: "x", count: 500) + "\(index)"]) }
        let segmentsBefore = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("queue-") }
        #expect(segmentsBefore.count > 3)
        await queue.complete(await queue.take(max: 1000).map(\.sequence))
        try await queue.checkpoint()
        let segmentsAfter = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("queue-") }
        #expect(segmentsAfter.count <= 1)  // the active one at most
        #expect(await queue.depth.messages == 0)
    }

    @Test func segmentsOfMessagesLargerThanTheTailWindowAreDeletedToo() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-relay")
        defer { directory.remove() }
        let queue = try Queue(directory: directory.url, limits: .init(segmentBytes: 4096))
        // 300 KB lines: a segment's last line is found by reading its tail in growing windows.
        for index in 0..<4 { try await queue.append([String(repeating: "y", count: 300_000) + "\(index)"]) }
        await queue.complete(await queue.take(max: 10).map(\.sequence))
        try await queue.checkpoint()
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("queue-") }
        #expect(left.count <= 1)
    }
}

/// Drop reports, counted by reason.
final class Reports: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func add(_ reason: String, _ count: Int) { counts.withLock { $0[reason, default: 0] += count } }
    func total(_ reason: String) -> Int { counts.withLock { $0[reason] ?? 0 } }
}
