import EdgeProofCore
import EdgeProofStorage
import Foundation
import Synchronization

/// Checks envelopes and stores the accepted ones, a batch at a time: every envelope of the batch
/// through ``EnvelopeIntake``, then the records of the accepted ones in one group-committed append
/// (one write, one fsync), then their nonces committed, or released if the write failed. The
/// collector runs its envelopes through this, and `edgeproof bench verify` measures it.
public struct EnvelopeStore: Sendable {
    public let intake: EnvelopeIntake
    public let records: GroupCommitLog
    /// The OTLP JSON lines of the accepted envelopes (`otlp:`), written beside the records; nil: none.
    public let otlp: GroupCommitLog?

    /// With `otlp`, the intake must make OTLP lines (`writesOTLP`).
    public init(intake: EnvelopeIntake, records: GroupCommitLog, otlp: GroupCommitLog? = nil) {
        self.intake = intake
        self.records = records
        self.otlp = otlp
    }

    /// One envelope as received.
    public struct Item: Sendable {
        public let payload: Data
        public let topic: String
        public let agent: String
        public let receivedAt: Date

        public init(payload: Data, topic: String, agent: String, receivedAt: Date) {
            self.payload = payload
            self.topic = topic
            self.agent = agent
            self.receivedAt = receivedAt
        }
    }

    public enum Outcome: Sendable {
        /// Durable: send the receipt.
        case stored(EnvelopeIntake.Accepted, at: Date)
        case rejected(ValidationFailure)
        /// This very envelope was stored before: answer with the failure (it carries `stored_at`).
        case storedAlready(ValidationFailure)
        /// This very envelope is being stored by someone else right now.
        case inProgress
        /// Passed every check but its record could not be written; its nonce is free again.
        case notStored(EnvelopeIntake.Accepted, StorageError)
    }

    /// A checked batch whose accepted records are not written yet.
    public struct CheckedBatch: Sendable {
        public let items: [Item]
        fileprivate var outcomes: [Outcome]
        fileprivate let accepted: [(index: Int, envelope: EnvelopeIntake.Accepted)]
    }

    /// Every item through ``EnvelopeIntake``; the accepted ones have their nonce claimed.
    public func check(_ items: [Item], allowlist: Allowlist) -> CheckedBatch {
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(items.count)
        var accepted: [(index: Int, envelope: EnvelopeIntake.Accepted)] = []
        for item in items {
            switch intake.check(
                item.payload, topic: item.topic, agent: item.agent, allowlist: allowlist, receivedAt: item.receivedAt)
            {
            case .accepted(let envelope):
                accepted.append((outcomes.count, envelope))
                outcomes.append(.inProgress)  // until written
            case .rejected(let failure): outcomes.append(.rejected(failure))
            case .storedAlready(let failure): outcomes.append(.storedAlready(failure))
            case .inProgress: outcomes.append(.inProgress)
            }
        }
        return CheckedBatch(items: items, outcomes: outcomes, accepted: accepted)
    }

    /// Writes the batch's accepted records with one append (one fsync), and their OTLP lines with another at
    /// the same time, then commits their nonces, or releases them if either write failed (the receipt
    /// promises both). The outcome of every item, in order.
    public func commit(_ batch: CheckedBatch) async -> [Outcome] {
        var outcomes = batch.outcomes
        guard !batch.accepted.isEmpty else { return outcomes }
        do {
            if let otlp {
                // Made and written by a task of its own, beside the records' write and fsync.
                async let otlpWritten: Void = otlp.append(lines: try Self.otlpLines(of: batch.accepted.map(\.envelope)))
                try await records.append(lines: batch.accepted.map(\.envelope.recordLine))
                try await otlpWritten
            } else {
                try await records.append(lines: batch.accepted.map(\.envelope.recordLine))
            }
            let storedAt = Date()
            for (index, envelope) in batch.accepted {
                intake.stored(envelope, at: storedAt)
                outcomes[index] = .stored(envelope, at: storedAt)
            }
        } catch {
            let failure = error as? StorageError ?? StorageError("\(error)")
            for (index, envelope) in batch.accepted {
                intake.notStored(envelope)
                outcomes[index] = .notStored(envelope, failure)
            }
        }
        return outcomes
    }

    private static func otlpLines(of accepted: [EnvelopeIntake.Accepted]) throws(StorageError) -> [Data] {
        do {
            return try accepted.compactMap { try $0.otlpLine() }
        } catch {
            // Cannot happen for a parsed envelope (its numbers are finite); not stored rather than half stored.
            throw StorageError("cannot write an envelope as OTLP JSON: \(error)")
        }
    }

    /// ``check(_:allowlist:)`` then ``commit(_:)``.
    public func store(_ items: [Item], allowlist: Allowlist) async -> [Outcome] {
        await commit(check(items, allowlist: allowlist))
    }

    /// Batches of one worker that may be checked but not yet durable at once. More than one: when a
    /// batch is checked faster than the disk syncs (compare `edgeproof bench verify` with the fsync time
    /// of the records disk), the next batches join the following group commit instead of waiting.
    public static let maximumUnwrittenBatches = 4

    /// Stores batches from `next` until it returns nil, checking each batch while earlier ones are
    /// being written (up to ``maximumUnwrittenBatches`` of them), and hands every batch's outcomes to
    /// `answer` once they are durable, as soon as it can between checks. One lane of this keeps one
    /// core verifying while the writer thread fsyncs.
    public func run(
        batches next: () -> [Item]?, allowlist: () -> Allowlist,
        answer: ([Item], [Outcome]) async -> Void
    ) async {
        // Written batches wait here for `answer`, which is not Sendable and so runs on this task.
        let durable = DurableBatches()
        func answerDurable() async {
            for batch in durable.takeAll() { await answer(batch.items, batch.outcomes) }
        }
        await withTaskGroup(of: Void.self) { writes in
            var unwritten = 0
            while let items = next() {
                let batch = check(items, allowlist: allowlist())
                writes.addTask {
                    let outcomes = await commit(batch)
                    durable.append(batch.items, outcomes)
                }
                unwritten += 1
                if unwritten >= Self.maximumUnwrittenBatches, await writes.next() != nil { unwritten -= 1 }
                await answerDurable()
            }
            while await writes.next() != nil { await answerDurable() }
        }
        await answerDurable()
    }
}

/// Batches whose records are durable, handed from the tasks that wrote them to the one that answers.
private final class DurableBatches: Sendable {
    private let batches = Mutex<[(items: [EnvelopeStore.Item], outcomes: [EnvelopeStore.Outcome])]>([])

    func append(_ items: [EnvelopeStore.Item], _ outcomes: [EnvelopeStore.Outcome]) {
        batches.withLock { $0.append((items, outcomes)) }
    }

    func takeAll() -> [(items: [EnvelopeStore.Item], outcomes: [EnvelopeStore.Outcome])] {
        batches.withLock { batches in
            defer { batches.removeAll() }
            return batches
        }
    }
}
