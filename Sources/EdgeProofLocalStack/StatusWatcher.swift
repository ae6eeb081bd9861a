import EdgeProofCore
import EdgeProofMQTT
import Foundation
import Synchronization

/// Follows the retained `status/…` messages through a read-only monitor connection, so the demo and benches
/// knows when a component is really up (connected and subscribed) or down.
public final class StatusWatcher: Sendable {
    private let seen = Mutex<[(key: String, status: ComponentStatus, at: Date)]>([])

    public init(_ client: MQTTClient) {
        let messages = client.messages
        Task { [weak self] in
            for await message in messages {
                guard let status = try? JSONDecoder().decode(ComponentStatus.self, from: message.payload) else { continue }
                self?.seen.withLock { $0.append(("\(status.component)/\(status.id)", status, Date())) }
            }
        }
    }

    public func waitForOnline(_ key: String, after date: Date = .distantPast) async throws {
        try await wait(for: key, state: .online, after: date)
    }

    public func waitForOffline(_ key: String, after date: Date) async throws {
        try await wait(for: key, state: .offline, after: date)
    }

    /// The latest status seen for `key` ("collector/collector-1").
    public func latest(_ key: String) -> ComponentStatus? {
        seen.withLock { entries in entries.last { $0.key == key }?.status }
    }

    private func wait(for key: String, state: ComponentStatus.State, after date: Date) async throws {
        // Generous: on a loaded 2-core machine, fixture processes starting elsewhere can delay a component.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let found = seen.withLock { entries in
                entries.contains { $0.key == key && $0.status.state == state && $0.at >= date }
            }
            if found { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw LocalStackError("\(key) did not report \(state.rawValue) within 60 s")
    }
}
