import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import Logging
import Synchronization
import UnixSignals

/// Reloading the allowlist without a restart.
extension Collector {
    /// Polls the allowlist file every second and reloads it when it changed, until cancelled.
    func watchAllowlistFile(_ client: MQTTClient) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
            let observed = FileStamp(path: allowlistFile.url.path)
            let changed = allowlistState.withLock { state in
                guard state.stamp != observed else { return false }
                state.stamp = observed
                return true
            }
            if changed { await reloadAllowlist(trigger: "file change", client: client) }
        }
    }

    /// Reloads the allowlist on every SIGHUP, until cancelled.
    func watchHangups(_ client: MQTTClient) async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            allowlistState.withLock { $0.stamp = FileStamp(path: allowlistFile.url.path) }
            await reloadAllowlist(trigger: "SIGHUP", client: client)
        }
    }

    /// Reads and validates the file; on success it replaces the allowlist, on failure the old one
    /// stays in force. Either way an event says so.
    func reloadAllowlist(trigger: String, client: MQTTClient) async {
        do {
            let allowlist = try allowlistFile.load()
            allowlistState.withLock { $0.allowlist = allowlist }
            count("allowlist.reloaded")
            logger.info("allowlist reloaded", metadata: ["trigger": "\(trigger)", "agents": "\(allowlist.count)"])
            await emit(
                kind: "allowlist_reloaded",
                details: ["trigger": .string(trigger), "agents": .number(Double(allowlist.count))], client: client)
        } catch {
            count("allowlist.reload_failed")
            logger.error(
                "allowlist reload failed; keeping the previous allowlist",
                metadata: ["trigger": "\(trigger)", "error": "\(error)"])
            await emit(
                kind: "allowlist_reload_failed",
                details: ["trigger": .string(trigger), "error": .string("\(error)")], client: client)
        }
    }
}
