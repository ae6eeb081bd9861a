import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import Logging
import Synchronization

/// The retained status and its counters.
extension Collector {
    /// How often the status is republished while counters change.
    static let statusInterval: Duration = .seconds(10)

    /// The retained status message; the offline form is also the last will.
    func statusMessage(_ state: ComponentStatus.State) -> MQTTMessage {
        let status = ComponentStatus(
            component: "collector", id: configuration.id, state: state,
            since: Timestamp.string(from: state == .online ? startedAt : Date()),
            counters: counters.snapshot, problem: state == .degraded ? storageProblem.withLock { $0 } : nil)
        let payload = (try? Self.encode(status)) ?? Data()
        return MQTTMessage(
            topic: topics.status(component: "collector", id: configuration.id), payload: payload, retain: true)
    }

    /// Publishes the online status once connected (and subscribed: the subscriptions precede it on
    /// the connection), then republishes it whenever the counters changed, until cancelled.
    func maintainStatus(_ client: MQTTClient) async {
        await publish(statusMessage(.online), on: client)
        await emit(kind: "started", details: ["agents": .number(Double(currentAllowlist.count))], client: client)
        var published = counters.snapshot
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: Self.statusInterval)
            } catch {
                return
            }
            let current = counters.snapshot
            guard current != published else { continue }
            published = current
            await publish(statusMessage(storageProblem.withLock { $0 } == nil ? .online : .degraded), on: client)
        }
    }

    /// Closes records and events files that reached their age while idle, until cancelled.
    func rotateIdleFiles() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
            do {
                try records.file.rotateIfDue()
                try events.file.rotateIfDue()
            } catch {
                logger.error("cannot rotate a file", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// The status counters, shared with the events writer's failure report.
final class StatusCounters: Sendable {
    private let values = Mutex<[String: Int]>([:])

    func increment(_ name: String, by amount: Int = 1) {
        values.withLock { $0[name, default: 0] += amount }
    }

    var snapshot: [String: Int] { values.withLock { $0 } }
}
