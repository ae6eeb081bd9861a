import EdgeProofCore

/// Gathers samples into batches that each fit in one envelope: a batch is cut after
/// `samples_per_envelope` ticks, or earlier when the next sample would not fit in the envelope.
struct BatchBuilder: Sendable {
    /// Bytes the samples of one batch may take (``EnvelopeBudget/roomForSamples``).
    let room: Int
    let ticksPerBatch: Int
    private var samples: [MetricSample] = []
    private var used = 0
    private var ticks = 0

    init(room: Int, ticksPerBatch: Int) {
        self.room = room
        self.ticksPerBatch = ticksPerBatch
    }


    /// Adds one tick's samples, each with its JSON size (each fits by itself: the agent refused the others),
    /// and returns the batches that are complete.
    mutating func add(_ tick: [(sample: MetricSample, bytes: Int)]) -> [[MetricSample]] {
        var complete: [[MetricSample]] = []
        for (sample, bytes) in tick {
            if !samples.isEmpty, used + 1 + bytes > room {
                complete.append(take())
            }
            used += samples.isEmpty ? bytes : bytes + 1
            samples.append(sample)
        }
        ticks += 1
        if ticks >= ticksPerBatch, !samples.isEmpty { complete.append(take()) }
        return complete
    }

    /// Adds samples that arrived between ticks (an application's OTLP points) and cuts everything gathered
    /// so far into batches at once: they are to be spooled now, with the agent's own samples of this batch.
    mutating func flush(adding extra: [(sample: MetricSample, bytes: Int)]) -> [[MetricSample]] {
        var complete: [[MetricSample]] = []
        for (sample, bytes) in extra {
            if !samples.isEmpty, used + 1 + bytes > room {
                complete.append(take())
            }
            used += samples.isEmpty ? bytes : bytes + 1
            samples.append(sample)
        }
        if !samples.isEmpty { complete.append(take()) }
        return complete
    }

    /// What was gathered so far, as a batch (at shutdown).
    mutating func take() -> [MetricSample] {
        defer {
            samples = []
            used = 0
            ticks = 0
        }
        return samples
    }
}
