import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("RotatingJSONLinesFile")
struct RotatingJSONLinesFileTests {
    private func line(_ index: Int) -> Data {
        Data(#"{"index":\#(index),"padding":"\#(String(repeating: "x", count: 40))"}"#.utf8)
    }

    private func names(_ directory: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    @Test func rotatesBySizeIntoClosedFilesWhoseEveryLineParses() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-rotating")
        defer { directory.remove() }
        let file = try RotatingJSONLinesFile(
            directory: directory.url, prefix: "records", limits: .init(maximumFileBytes: 500))
        for batch in 0..<20 {
            try file.append(lines: [line(2 * batch), line(2 * batch + 1)])
        }
        let closed = try file.closedFiles()
        #expect(closed.count >= 4)
        for url in closed {
            let name = url.lastPathComponent
            #expect(name.hasPrefix("records-") && name.hasSuffix(".jsonl"))
            #expect(name.wholeMatch(of: /records-\d{8}T\d{6}Z-\d{6}\.jsonl/) != nil, "\(name)")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
            #expect(size <= 500 + 2 * 60)
        }
        try file.close()
        #expect(try names(directory).allSatisfy { $0.hasSuffix(".jsonl") })
        var indices = [Int]()
        for url in try file.closedFiles() {
            let data = try Data(contentsOf: url)
            #expect(data.last == UInt8(ascii: "\n"))
            for raw in data.split(separator: UInt8(ascii: "\n")) {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any])
                indices.append(try #require(object["index"] as? Int))
            }
        }
        #expect(indices == Array(0..<40))
        #expect(throws: StorageError.self) { try file.append(line: line(99)) }
    }

    @Test func rotatesByAgeAndKeepsOnlyTheNewestClosedFiles() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-rotating")
        defer { directory.remove() }
        let file = try RotatingJSONLinesFile(
            directory: directory.url, prefix: "events", limits: .init(maximumFileAge: .seconds(60), retainFiles: 2))
        let start = Date()
        for minute in 0..<5 {
            try file.append(line: line(minute), now: start.addingTimeInterval(Double(minute) * 61))
        }
        try file.rotateIfDue(now: start.addingTimeInterval(5 * 61))
        #expect(file.activeFile == nil)
        let closed = try file.closedFiles()
        #expect(closed.count == 2)
        let kept = try closed.flatMap { try Data(contentsOf: $0).split(separator: UInt8(ascii: "\n")).map { Data($0) } }
        #expect(kept == [line(3), line(4)])
    }

    @Test func retentionNeverDeletesFilesChangedWithinKeepRecent() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-rotating")
        defer { directory.remove() }
        // retain_files 1 would delete three of them, but all were changed just now.
        let file = try RotatingJSONLinesFile(
            directory: directory.url, prefix: "records",
            limits: .init(maximumFileBytes: 1, retainFiles: 1, retainAge: .seconds(1), keepRecent: .seconds(600)))
        for index in 0..<4 { try file.append(line: line(index)) }
        #expect(try file.closedFiles().count == 4)
    }

    @Test func closesALeftoverOpenFileAndCutsOffItsTornLastLine() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-rotating")
        defer { directory.remove() }
        let leftover = directory.appending("records-20260101T000000Z-000007.jsonl.open")
        try (line(1) + Data("\n".utf8) + line(2) + Data("\n".utf8) + Data(#"{"index":3,"pad"#.utf8)).write(to: leftover)
        let empty = directory.appending("records-20260101T000001Z-000008.jsonl.open")
        try Data(#"{"torn"#.utf8).write(to: empty)

        let file = try RotatingJSONLinesFile(directory: directory.url, prefix: "records")
        #expect(try names(directory) == ["records-20260101T000000Z-000007.jsonl"])
        let repaired = try Data(contentsOf: directory.appending("records-20260101T000000Z-000007.jsonl"))
        #expect(repaired == line(1) + Data("\n".utf8) + line(2) + Data("\n".utf8))

        // New files continue the sequence after the leftovers.
        try file.append(line: line(4))
        let active = try #require(file.activeFile)
        #expect(active.lastPathComponent.hasSuffix("-000009.jsonl.open"))
        try file.close()
    }

    @Test func leavesOtherPrefixesAlone() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-rotating")
        defer { directory.remove() }
        let foreign = directory.appending("events-20260101T000000Z-000001.jsonl.open")
        try Data("partial".utf8).write(to: foreign)
        let file = try RotatingJSONLinesFile(directory: directory.url, prefix: "records")
        try file.close()
        #expect(FileManager.default.fileExists(atPath: foreign.path))
    }
}
