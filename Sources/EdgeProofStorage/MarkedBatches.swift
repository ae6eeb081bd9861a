import EdgeProofCore
import Foundation

/// Batches a run can find again: one sample each, whose `marker` value is unique. The demo's node-loss row,
/// the outage bench and the multi-broker tests queue them before the agents start and then count every
/// marker in the records: none missing means nothing was lost, none twice means nothing was stored twice.
public enum MarkedBatches {
    /// Queues one single-sample batch per marker into `spool`, in order.
    public static func enqueue(
        _ markers: [String], into spool: EnvelopeSpool, location: GeographicRegion, service: ServiceInfo,
        metricType: String = "marker"
    ) async throws {
        for marker in markers {
            let sample = MetricSample(
                timestamp: Timestamp.string(from: Date()), metricType: metricType, values: ["marker": .string(marker)])
            let batch = EnvelopeSpool.UnsignedBatch(
                geographicRegion: location, metrics: MetricsBatch(service: service, samples: [sample]))
            guard try await spool.enqueue(batch) != nil else {
                throw StorageError("the spool refused the batch with marker \(marker) (full, drop_newest)")
            }
        }
    }

    /// How often each marker occurs in the records files of `directory`, closed and open
    /// (`records-….jsonl.open`). Lines that are not records are skipped.
    public static func counts(inRecordsDirectory directory: URL) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for file in try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        where file.lastPathComponent.hasPrefix("records-") {
            for line in try Data(contentsOf: file).split(separator: UInt8(ascii: "\n")) {
                guard let record = try? JSONDecoder().decode(StoredRecord.self, from: Data(line)) else { continue }
                for sample in record.metrics.samples {
                    if let marker = sample.values["marker"]?.stringValue { counts[marker, default: 0] += 1 }
                }
            }
        }
        return counts
    }
}
