import EdgeProofCore
import EdgeProofStorage
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The allowlist in force for a component, reloaded when its file changes (polled every
/// `allowlist_poll_s`) and on SIGHUP. A file that does not load leaves the previous list in force.
/// Every reload is logged, counted (`allowlist_reloads`, `allowlist_reload_failures`) and reported on
/// ``events`` as a trust event (`allowlist_reloaded`, `allowlist_reload_failed`) for the component to
/// publish. A file that disappears is not a change (the list in force stays); one that comes back is.
///
/// Re-attestations come from the attestation ledger beside the allowlist (``AttestationLedger``): its new
/// lines are read on every poll and refresh the entries' attestation times in the list in force, so that a
/// daily re-attestation of every agent never rewrites (nor reloads) the allowlist.
///
/// A `Service`: list it after the component in the `ServiceGroup` (it stops first).
public final class AllowlistWatcher: Service, Sendable {
    /// Why the allowlist is being reloaded, for logs and events.
    public enum Trigger: String, Sendable {
        case fileChanged = "file_changed"
        case hangup = "sighup"
    }

    /// A trust event to publish: its kind and details.
    public struct Event: Sendable {
        public var kind: String
        public var details: [String: JSONValue]
    }

    public let file: AllowlistFile
    public let ledger: AttestationLedger
    /// How much of each trust block is kept: gateways and collectors check only its summary.
    public let evidence: AllowlistEntry.EvidenceReading
    public let pollInterval: Duration
    private let logger: Logger
    private let reloads: Counter
    private let failures: Counter
    private let ledgerFailures: Counter
    private let state: Mutex<State>
    private let continuation: AsyncStream<Event>.Continuation
    /// Reload events, in order, for the component to publish (single consumer).
    public let events: AsyncStream<Event>

    private struct State {
        var allowlist: Allowlist
        var stamp: FileStamp?
        var ledgerPosition = LedgerPosition()
    }

    /// Loads the file; throws its ``StorageError`` when it cannot be used.
    public init(
        file: AllowlistFile, evidence: AllowlistEntry.EvidenceReading = .summary, pollInterval: Duration,
        metrics: ServiceMetrics, logger: Logger
    ) throws {
        self.file = file
        self.evidence = evidence
        self.pollInterval = pollInterval
        self.logger = logger
        reloads = metrics.counter("allowlist_reloads")
        failures = metrics.counter("allowlist_reload_failures")
        ledgerFailures = metrics.counter("attestation_ledger_failures")
        ledger = AttestationLedger(besideAllowlist: file)
        let stamp = FileStamp(path: file.url.path)
        var allowlist = try file.load(evidence: evidence)
        var position = LedgerPosition()
        Self.apply(try ledger.readAppended(since: &position), to: &allowlist)
        state = Mutex(State(allowlist: allowlist, stamp: stamp, ledgerPosition: position))
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
    }

    /// Refreshes the attestation times of `allowlist`'s entries from ledger lines (lines about another key
    /// than the entry's, or an agent not on the list, change nothing).
    private static func apply(_ lines: [AttestationLedger.Line], to allowlist: inout Allowlist) {
        for line in lines {
            guard let time = Timestamp.date(from: line.attestedAt) else { continue }
            allowlist.recordAttestation(agent: line.agent, keyHash: line.keyHash, at: time.timeIntervalSince1970)
        }
    }

    /// Reads the ledger's new lines into the list in force. A ledger that cannot be read is logged and
    /// counted; the attestation times in force stay.
    public func readLedger() {
        do {
            let start = state.withLock { $0.ledgerPosition }
            var position = start
            let lines = try ledger.readAppended(since: &position)
            state.withLock { state in
                // A reload in between read the whole ledger for its list: then these lines are in it already.
                guard state.ledgerPosition == start else { return }
                Self.apply(lines, to: &state.allowlist)
                state.ledgerPosition = position
            }
        } catch {
            ledgerFailures.increment()
            logger.error("attestation ledger unreadable; keeping the attestation times in force",
                metadata: ["file": "\(ledger.url.path)", "error": "\(error)"])
        }
    }

    deinit {
        continuation.finish()
    }

    /// The allowlist in force.
    public var allowlist: Allowlist {
        state.withLock { $0.allowlist }
    }

    /// Polls the file and reloads on SIGHUP until graceful shutdown or cancellation.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.poll() }
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                    await self.reload(trigger: .hangup)
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func poll() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                return
            }
            await reloadIfChanged()
            readLedger()
        }
    }

    /// Reloads when the file's identity changed since it was last read.
    public func reloadIfChanged() async {
        guard let current = FileStamp(path: file.url.path) else { return }
        let changed = state.withLock { state in
            guard state.stamp != current else { return false }
            state.stamp = current
            return true
        }
        if changed { await reload(trigger: .fileChanged) }
    }

    /// Reloads the file now. On success the new list is in force for the next message; on failure the
    /// previous one stays. Returns whether the new list was taken.
    @discardableResult
    public func reload(trigger: Trigger) async -> Bool {
        let path = file.url.path
        let stamp = FileStamp(path: path)
        do {
            var fresh = try file.load(evidence: evidence)
            // The new list's entries start from their trust blocks' times: the whole ledger refreshes them.
            var position = LedgerPosition()
            do {
                Self.apply(try ledger.readAppended(since: &position), to: &fresh)
            } catch {
                ledgerFailures.increment()
                logger.error("attestation ledger unreadable while reloading the allowlist",
                    metadata: ["file": "\(ledger.url.path)", "error": "\(error)"])
            }
            let previous = state.withLock { state in
                defer {
                    state.allowlist = fresh
                    state.stamp = stamp
                    state.ledgerPosition = position
                }
                return state.allowlist.count
            }
            reloads.increment()
            logger.info(
                "allowlist reloaded",
                metadata: [
                    "file": "\(path)", "agents": "\(fresh.count)", "previously": "\(previous)",
                    "trigger": "\(trigger.rawValue)",
                ])
            continuation.yield(
                Event(
                    kind: "allowlist_reloaded",
                    details: [
                        "file": .string(path), "agents": .number(Double(fresh.count)),
                        "trigger": .string(trigger.rawValue),
                    ]))
            return true
        } catch {
            let kept = state.withLock { state in
                state.stamp = stamp
                return state.allowlist.count
            }
            failures.increment()
            logger.error(
                "allowlist reload failed; keeping the previous allowlist",
                metadata: [
                    "file": "\(path)", "error": "\(error)", "agents_kept": "\(kept)", "trigger": "\(trigger.rawValue)",
                ])
            continuation.yield(
                Event(
                    kind: "allowlist_reload_failed",
                    details: [
                        "file": .string(path), "error": .string("\(error)"), "agents_kept": .number(Double(kept)),
                        "trigger": .string(trigger.rawValue),
                    ]))
            return false
        }
    }
}
