import Foundation
import Synchronization

/// Group commit in front of a ``RotatingJSONLinesFile``: lines appended by many concurrent tasks are
/// written by one thread in batches, one write and one fsync per batch, and each ``append(_:)``
/// returns once its batch is durable. A receipt sent after `append` returns therefore still means
/// "on disk", at the cost of one fsync per batch instead of one per line.
///
/// The writer is a thread of its own, so fsync never blocks the cooperative pool. A batch that fails
/// fails every caller in it, and the file cuts the whole batch back off (see
/// ``RotatingJSONLinesFile/append(lines:now:)``): no caller is told "stored" for a line that is not.
public final class GroupCommitLog: Sendable {
    public let file: RotatingJSONLinesFile
    /// At most this many lines go into one write and fsync (more only when one caller's lines are more).
    public let maximumBatch: Int
    /// At most this many lines appended without waiting may wait for the writer; more are dropped
    /// and reported through `onFailure`.
    public let maximumUnwaitedLines: Int

    private enum Waiter {
        case durable(CheckedContinuation<StorageError?, Never>)
        case fireAndForget
    }

    private struct State {
        /// Each caller's lines stay together, so that they succeed or fail as one.
        var pending: [(lines: [Data], waiter: Waiter)] = []
        /// Lines of `pending` that nobody waits for.
        var unwaitedLines = 0
        var closed = false
        var finished = false
    }

    private let state = Mutex(State())
    private let writes = Atomic<Int>(0)

    /// Batches written so far (each one write and one fsync).
    public var batchesWritten: Int { writes.load(ordering: .relaxed) }
    private let wakeUp = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let onFailure: @Sendable (StorageError) -> Void
    private let onBatchWritten: @Sendable (_ bytes: Int, _ duration: Duration) -> Void

    /// Starts the writer thread. `onFailure` hears of failed batches with fire-and-forget lines and of
    /// such lines dropped over ``maximumUnwaitedLines`` (callers of ``append(_:)`` get their error directly).
    /// `onBatchWritten` hears of each durable batch: its bytes and how long its write and fsync took.
    public init(
        file: RotatingJSONLinesFile, maximumBatch: Int = 512, maximumUnwaitedLines: Int = 65_536,
        onFailure: @escaping @Sendable (StorageError) -> Void = { _ in },
        onBatchWritten: @escaping @Sendable (_ bytes: Int, _ duration: Duration) -> Void = { _, _ in }
    ) {
        self.file = file
        self.maximumBatch = max(1, maximumBatch)
        self.maximumUnwaitedLines = max(1, maximumUnwaitedLines)
        self.onFailure = onFailure
        self.onBatchWritten = onBatchWritten
        let thread = Thread { [self] in writeLoop() }
        thread.name = "edgeproof.group-commit.\(file.prefix)"
        thread.start()
    }

    /// Appends `line` and returns once it is durable (or throws what the write or fsync said).
    public func append(_ line: Data) async throws(StorageError) {
        try await append(lines: [line])
    }

    /// Appends `lines`, in order, and returns once all of them are durable; they go into one batch,
    /// so they are written or cut back off together.
    public func append(lines: [Data]) async throws(StorageError) {
        guard !lines.isEmpty else { return }
        let failure: StorageError? = await withCheckedContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.pending.append((lines, .durable(continuation)))
                return true
            }
            if accepted {
                wakeUp.signal()
            } else {
                continuation.resume(returning: StorageError("\(file.prefix) log in \(file.directory.path) is closed"))
            }
        }
        if let failure { throw failure }
    }

    /// Appends `line` without waiting for it (trust events: their order matters, their fsync does
    /// not hold anything up). Dropped once the log is closed.
    public func appendWithoutWaiting(_ line: Data) {
        appendWithoutWaiting(lines: [line])
    }

    /// Appends `lines`, in order, without waiting for them; one hand-over to the writer thread.
    public func appendWithoutWaiting(lines: [Data]) {
        guard !lines.isEmpty else { return }
        let outcome = state.withLock { state -> (accepted: Bool, backlogFull: Bool) in
            guard !state.closed else { return (false, false) }
            guard state.unwaitedLines + lines.count <= maximumUnwaitedLines else { return (false, true) }
            state.pending.append((lines, .fireAndForget))
            state.unwaitedLines += lines.count
            return (true, false)
        }
        if outcome.accepted { wakeUp.signal() }
        if outcome.backlogFull {
            // A stuck disk must not grow memory without bound; the loss is reported, not silent.
            onFailure(
                StorageError("\(file.prefix) log: \(maximumUnwaitedLines) unwritten lines already; dropped \(lines.count)"))
        }
    }

    /// Writes what is pending, stops the writer thread and finalizes the file. Later appends fail.
    /// Idempotent.
    public func close() throws(StorageError) {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first {
            wakeUp.signal()
            stopped.wait()
        }
        try file.close()
    }

    private func writeLoop() {
        while true {
            wakeUp.wait()
            while true {
                let (batch, done) = state.withLock { state -> ([(lines: [Data], waiter: Waiter)], Bool) in
                    var count = 0
                    var lines = 0
                    while count < state.pending.count, count == 0 || lines + state.pending[count].lines.count <= maximumBatch {
                        lines += state.pending[count].lines.count
                        count += 1
                    }
                    let batch = Array(state.pending.prefix(count))
                    state.pending.removeFirst(count)
                    for entry in batch {
                        if case .fireAndForget = entry.waiter { state.unwaitedLines -= entry.lines.count }
                    }
                    return (batch, state.closed && state.pending.isEmpty)
                }
                if !batch.isEmpty { write(batch) }
                if done {
                    stopped.signal()
                    return
                }
                if batch.isEmpty { break }
            }
        }
    }

    private func write(_ batch: [(lines: [Data], waiter: Waiter)]) {
        var failure: StorageError?
        writes.add(1, ordering: .relaxed)
        do {
            let lines = batch.flatMap(\.lines)
            let started = ContinuousClock.now
            try file.append(lines: lines)
            onBatchWritten(lines.reduce(0) { $0 + $1.count + 1 }, ContinuousClock.now - started)
        } catch {
            failure = error
        }
        var anyUnwaited = false
        for (_, waiter) in batch {
            switch waiter {
            case .durable(let continuation): continuation.resume(returning: failure)
            case .fireAndForget: anyUnwaited = true
            }
        }
        if let failure, anyUnwaited { onFailure(failure) }
    }
}
