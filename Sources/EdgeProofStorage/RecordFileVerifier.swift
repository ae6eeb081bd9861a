import EdgeProofCore
import Foundation

/// Re-verifies a collector's records file offline: every line must be a ``StoredRecord`` (read by the
/// strict reader) whose envelope the collector's own reading accepts and that verifies with the
/// allowlisted key of its agent.
public struct RecordFileVerifier: Sendable {
    public let allowlist: Allowlist

    public init(allowlist: Allowlist) {
        self.allowlist = allowlist
    }

    /// The outcome for one file.
    public struct Report: Sendable {
        public let file: String
        public let records: Int
        public let verified: Int
        /// Line number (1-based) and what was wrong, for every line that did not verify.
        public let failures: [(line: Int, problem: String)]

        public var allVerified: Bool { failures.isEmpty && records == verified }
    }

    public func verify(file url: URL) throws(StorageError) -> Report {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw StorageError("cannot read \(url.path)")
        }
        var records = 0
        var verified = 0
        var failures: [(Int, String)] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            records += 1
            // The line, then the envelope in it, through the same strict reader as the collector's.
            let record: StoredRecord
            do {
                record = try StoredRecord(strictJSON: line)
            } catch {
                failures.append((index + 1, "not a stored record: \(error.description(in: "the record"))"))
                continue
            }
            do {
                try record.verify(with: allowlist)
                verified += 1
            } catch {
                failures.append((index + 1, error.description))
            }
        }
        return Report(file: url.path, records: records, verified: verified, failures: failures)
    }
}
