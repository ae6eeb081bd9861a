import EdgeProofCore
import EdgeProofStorage
import Foundation
import Logging
import Synchronization
import UnixSignals

extension Gateway {
    /// Why the allowlist is being reloaded, for logs and events.
    enum ReloadTrigger: String, Sendable {
        case fileChanged = "file_changed"
        case hangup = "sighup"
    }

    /// Reloads the allowlist file now. On success the new list is in force for the next message and
    /// an `allowlist_reloaded` event is published; on failure the previous list stays in force, the
    /// problem is logged and an `allowlist_reload_failed` event is published. Returns whether the
    /// new list was taken. Does nothing in passthrough mode.
    @discardableResult
    public func reloadAllowlist() async -> Bool {
        await reloadAllowlist(trigger: .hangup)
    }

    @discardableResult
    func reloadAllowlist(trigger: ReloadTrigger) async -> Bool {
        guard let file = allowlistFile else { return false }
        let path = file.url.path
        do {
            let fresh = try file.load()
            let previous = state.withLock { state in
                let previous = state.allowlist.count
                state.allowlist = fresh
                state.counters.increment("allowlist_reloads")
                return previous
            }
            logger.info(
                "allowlist reloaded",
                metadata: [
                    "file": "\(path)", "agents": "\(fresh.count)", "previously": "\(previous)",
                    "trigger": "\(trigger.rawValue)",
                ])
            await publishEvent(
                kind: "allowlist_reloaded",
                details: [
                    "file": .string(path), "agents": .number(Double(fresh.count)), "trigger": .string(trigger.rawValue),
                ])
            return true
        } catch {
            let kept = state.withLock { state in
                state.counters.increment("allowlist_reload_failures")
                return state.allowlist.count
            }
            logger.error(
                "allowlist reload failed; keeping the previous allowlist",
                metadata: [
                    "file": "\(path)", "error": "\(error)", "agents_kept": "\(kept)", "trigger": "\(trigger.rawValue)",
                ])
            await publishEvent(
                kind: "allowlist_reload_failed",
                details: [
                    "file": .string(path), "error": .string("\(error)"), "agents_kept": .number(Double(kept)),
                    "trigger": .string(trigger.rawValue),
                ])
            return false
        }
    }

    /// Polls the allowlist file's fingerprint and reloads when it changed. A file that disappears
    /// is not a change (the list in force stays); one that comes back is.
    func watchAllowlistFile() async {
        guard let file = allowlistFile else { return }
        let interval = Duration.milliseconds(Int((configuration.allowlistPollSeconds * 1000).rounded()))
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            guard let current = FileFingerprint(of: file.url.path) else { continue }
            let changed = state.withLock { state in
                guard state.allowlistFingerprint != current else { return false }
                state.allowlistFingerprint = current
                return true
            }
            if changed { await reloadAllowlist(trigger: .fileChanged) }
        }
    }

    /// Reloads on every SIGHUP until cancelled.
    func reloadOnHangup() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals {
            guard !Task.isCancelled else { return }
            await reloadAllowlist(trigger: .hangup)
        }
    }
}
