import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Synchronization
import Testing

@Suite("GroupCommitLog")
struct GroupCommitLogTests {
    @Test func everyConcurrentAppendIsInTheFileWhenItReturns() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-group-commit")
        defer { directory.remove() }
        let log = GroupCommitLog(file: try RotatingJSONLinesFile(directory: directory.url, prefix: "records"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                group.addTask {
                    try await log.append(Data(#"{"index":\#(index)}"#.utf8))
                    // Durable once append returns: the line is in the file now.
                    let file = try #require(log.file.activeFile)
                    #expect(String(decoding: try Data(contentsOf: file), as: UTF8.self).contains(#"{"index":\#(index)}"#))
                }
            }
            try await group.waitForAll()
        }
        #expect(log.batchesWritten <= 300)
        try log.close()
        let lines = try log.file.closedFiles().flatMap { try Data(contentsOf: $0).split(separator: UInt8(ascii: "\n")) }
        #expect(Set(lines.map { String(decoding: $0, as: UTF8.self) }).count == 300)
    }

    @Test func appendsAfterCloseFailAndFireAndForgetLinesAreWrittenBeforeClose() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-group-commit")
        defer { directory.remove() }
        let log = GroupCommitLog(file: try RotatingJSONLinesFile(directory: directory.url, prefix: "events"))
        for index in 0..<50 { log.appendWithoutWaiting(Data(#"{"event":\#(index)}"#.utf8)) }
        try log.close()
        let lines = try log.file.closedFiles().flatMap { try Data(contentsOf: $0).split(separator: UInt8(ascii: "\n")) }
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == (0..<50).map { #"{"event":\#($0)}"# })
        await #expect(throws: StorageError.self) { try await log.append(Data("{}".utf8)) }
    }

    @Test func aFailedWriteFailsEveryAppendOfItsBatch() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-group-commit")
        defer { directory.remove() }
        let file = try RotatingJSONLinesFile(directory: directory.url, prefix: "records")
        let log = GroupCommitLog(file: file)
        try file.close()  // the file refuses appends from now on, as a broken disk would
        await #expect(throws: StorageError.self) { try await log.append(Data("{}".utf8)) }
    }

    @Test func unwaitedLinesOverTheBacklogLimitAreDroppedAndReported() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-group-commit")
        defer { directory.remove() }
        let reported = Mutex<[StorageError]>([])
        let log = GroupCommitLog(
            file: try RotatingJSONLinesFile(directory: directory.url, prefix: "events"), maximumUnwaitedLines: 3,
            onFailure: { error in reported.withLock { $0.append(error) } })
        log.appendWithoutWaiting(lines: [Data("{\"kept\":1}".utf8), Data("{\"kept\":2}".utf8)])
        log.appendWithoutWaiting(lines: (0..<5).map { Data("{\"dropped\":\($0)}".utf8) })
        try log.close()
        let lines = try log.file.closedFiles().flatMap { try Data(contentsOf: $0).split(separator: UInt8(ascii: "\n")) }
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == [#"{"kept":1}"#, #"{"kept":2}"#])
        #expect(reported.withLock { $0.map(\.description) }.contains { $0.contains("dropped 5") })
    }
}
