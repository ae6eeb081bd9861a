import EdgeProofCore
import EdgeProofOTLPReceiver
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// Applications' OTLP metrics (`otlp_receiver:`): their samples join the agent's own in the batch being
/// gathered, which is spooled at once, so that the receiver's 200 means "on this device's disk, to be signed
/// by its TPM and receipted like everything else".
extension Agent {
    /// Spools `samples` from the OTLP receiver with what the agent has gathered so far; busy (the sender
    /// retries) when the spool has no room for them, so that taking them never drops an earlier batch.
    func admitApplicationSamples(_ samples: [MetricSample]) async -> OTLPAdmission {
        let retryAfter = max(1, Int(configuration.sampleInterval.rounded(.up)))
        var sized: [(sample: MetricSample, bytes: Int)] = []
        for sample in samples {
            for part in fitting(sample) {
                guard let bytes = EnvelopeBudget.sampleBytes(part), budget.fits(sampleOf: bytes) else { continue }
                sized.append((part, bytes))
            }
        }
        guard !sized.isEmpty else { return .spooled }
        // Room for them, with the spool's own overhead per batch: taking them must not evict older batches.
        let needed = sized.reduce(0) { $0 + $1.bytes } + 4096
        let (used, limit) = (await spool.totalBytes, spool.limits.maximumBytes)
        guard used + needed <= limit else {
            return .busy(retryAfterSeconds: retryAfter, reason: "the spool is full (\(used) of \(limit) bytes)")
        }
        let batches = builder.withLock { $0.flush(adding: sized) }
        for batch in batches {
            do {
                guard try await spool.enqueue(self.batch(batch)) != nil else {
                    return .busy(retryAfterSeconds: retryAfter, reason: "the spool refused the batch (full)")
                }
            } catch {
                logger.error("cannot spool OTLP samples", metadata: ["error": "\(error)"])
                return .busy(retryAfterSeconds: retryAfter, reason: "cannot spool: \(error)")
            }
        }
        return .spooled
    }

    /// `sample`, or its values cut into samples of the same time and type that each fit in an envelope. Each
    /// value is sized once (its bytes in a sample of its own, less the empty sample's): linear in the values.
    private func fitting(_ sample: MetricSample) -> [MetricSample] {
        if let bytes = EnvelopeBudget.sampleBytes(sample), budget.fits(sampleOf: bytes) { return [sample] }
        func part(_ values: [String: JSONValue]) -> MetricSample {
            MetricSample(timestamp: sample.timestamp, metricType: sample.metricType, values: values)
        }
        guard let empty = EnvelopeBudget.sampleBytes(part([:])) else { return [] }
        var parts: [MetricSample] = []
        var current: [String: JSONValue] = [:]
        var used = empty
        for (name, value) in sample.values.sorted(by: { $0.key < $1.key }) {
            guard let alone = EnvelopeBudget.sampleBytes(part([name: value])) else { continue }
            let bytes = alone - empty + 1  // and its comma
            if !current.isEmpty, !budget.fits(sampleOf: used + bytes) {
                parts.append(part(current))
                (current, used) = ([:], empty)
            }
            current[name] = value
            used += bytes
        }
        if !current.isEmpty { parts.append(part(current)) }
        return parts
    }
}
