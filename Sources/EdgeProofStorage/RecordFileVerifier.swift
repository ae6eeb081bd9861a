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
        try verify(file: url) { line in
            // The line, then the envelope in it, through the same strict reader as the collector's.
            let record: StoredRecord
            do throws(JSONRefusal) {
                record = try StoredRecord(strictJSON: line)
            } catch {
                return "not a stored record: \(error.description(in: "the record"))"
            }
            do throws(ValidationFailure) {
                try record.verify(with: allowlist)
                return nil
            } catch {
                return error.description
            }
        }
    }

    /// Runs `check` on every non-empty line of the file; nil from it means the line verified, a string says
    /// what was wrong. Other line formats (OTLP JSON) bring their own check.
    public func verify(file url: URL, checkingEachLine check: (ArraySlice<UInt8>) -> String?) throws(StorageError)
        -> Report
    {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw StorageError("cannot read \(url.path)")
        }
        var records = 0
        var verified = 0
        var failures: [(Int, String)] = []
        let bytes = [UInt8](data)
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            records += 1
            if let problem = check(line) {
                failures.append((index + 1, problem))
            } else {
                verified += 1
            }
        }
        return Report(file: url.path, records: records, verified: verified, failures: failures)
    }
}
