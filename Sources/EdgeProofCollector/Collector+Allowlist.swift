import EdgeProofCore
import EdgeProofService

/// Reloading the allowlist without a restart: the ``EdgeProofService/AllowlistWatcher`` reloads, the
/// collector writes and publishes its events.
extension Collector {
    /// Emits the watcher's reload events until cancelled.
    func publishAllowlistEvents() async {
        for await event in allowlistWatcher.events {
            guard !Task.isCancelled else { return }
            await emit(kind: event.kind, details: event.details)
        }
    }
}
