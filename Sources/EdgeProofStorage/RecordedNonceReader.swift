import EdgeProofCore
import Foundation

/// Reads back, from a collector's records files, which nonces recent records used: the collector
/// rebuilds its replay cache from them on start, so the records are the one durable account of
/// nonce use (a crash between writing a record and sending its receipt cannot lead to storing the
/// envelope twice, and no second file has to agree with them).
public enum RecordedNonceReader {
    /// What one record says about its nonce.
    public struct Use: Sendable, Hashable {
        public let nonce: String
        public let kid: PublicKeyHash
        public let signature: String
        public let receivedAt: String
    }

    private struct Fields: Decodable {
        let nonce: String
        let kid: PublicKeyHash
        let signature: String
        let receivedAt: String

        enum CodingKeys: String, CodingKey {
            case nonce, kid, signature
            case receivedAt = "received_at"
        }
    }

    /// The nonce uses in `prefix-*.jsonl` files of `directory` last modified at or after `since`
    /// (older files can only hold expired nonces: a record is written before its file's last
    /// change, and after its nonce was issued). Lines that do not parse are counted, not returned.
    public static func read(directory: URL, prefix: String = "records", modifiedSince since: Date)
        throws(StorageError) -> (uses: [Use], unreadableLines: Int)
    {
        var uses = [Use]()
        var unreadable = 0
        let decoder = JSONDecoder()
        for (url, _) in try RotatingJSONLinesFile.files(in: directory, prefix: prefix) {
            guard let modified = RotatingJSONLinesFile.modificationDate(of: url), modified >= since else { continue }
            let data: Data
            do {
                data = try Data(contentsOf: url)
            } catch {
                throw StorageError("cannot read \(url.path): \(error.localizedDescription)")
            }
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                guard let fields = try? decoder.decode(Fields.self, from: line) else {
                    unreadable += 1
                    continue
                }
                uses.append(Use(nonce: fields.nonce, kid: fields.kid, signature: fields.signature, receivedAt: fields.receivedAt))
            }
        }
        return (uses, unreadable)
    }
}
