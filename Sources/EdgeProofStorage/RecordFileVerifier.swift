import EdgeProofCore
import Foundation

/// Re-verifies a collector's records file offline: every line must be a ``StoredRecord`` whose
/// envelope verifies with the allowlisted key of its agent.
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
        let decoder = JSONDecoder()
        var records = 0
        var verified = 0
        var failures: [(Int, String)] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            records += 1
            // A stored record is as shallow as its claims; deeper lines are not records (and can trap
            // Foundation's decoder, see JSONNesting).
            guard !JSONNesting.exceeds(in: line) else {
                failures.append((index + 1, "not a stored record: nested deeper than \(JSONNesting.maximumDepth) levels"))
                continue
            }
            do {
                let record = try decoder.decode(StoredRecord.self, from: Data(line))
                try record.verify(with: allowlist)
                verified += 1
            } catch let failure as ValidationFailure {
                failures.append((index + 1, failure.description))
            } catch {
                failures.append((index + 1, "not a stored record: \(DecodingProblem.describe(error))"))
            }
        }
        return Report(file: url.path, records: records, verified: verified, failures: failures)
    }
}
