import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
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
        Self.statusMessage(
            state, configuration: configuration, since: state == .online ? startedAt : Date(), counters: counters,
            problem: state == .degraded ? storageProblem.withLock { $0 } : nil)
    }

    static func statusMessage(
        _ state: ComponentStatus.State, configuration: CollectorConfiguration, since: Date, counters: [String: Int],
        problem: String?
    ) -> MQTTMessage {
        let topics = TopicTree(prefix: configuration.broker.topicPrefix)
        let status = ComponentStatus(
            component: "collector", id: configuration.id, state: state, since: Timestamp.string(from: since),
            counters: counters, problem: problem)
        let payload = (try? encode(status)) ?? Data()
        return MQTTMessage(
            topic: topics.status(component: "collector", id: configuration.id), payload: payload, retain: true)
    }

    /// Publishes the online status once connected (and subscribed: the subscriptions precede it on
    /// the connection), then republishes it whenever the counters changed, until cancelled.
    func maintainStatus() async {
        await publish(statusMessage(.online))
        await emit(kind: "started", details: ["agents": .number(Double(currentAllowlist.count))])
        var published = counters
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: Self.statusInterval)
            } catch {
                return
            }
            let current = counters
            guard current != published else { continue }
            published = current
            await publish(statusMessage(storageProblem.withLock { $0 } == nil ? .online : .degraded))
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
                try otlp?.file.rotateIfDue()
                try events.file.rotateIfDue()
            } catch {
                logger.error("cannot rotate a file", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension Collector: ReadinessReporting {
    /// Ready when connected, subscribed and able to write records (the allowlist is loaded at start).
    public var readiness: Readiness {
        let problem = storageProblem.withLock { $0 }
        return .first([
            (client.isConnected, "not connected to the broker"),
            (subscribed.load(ordering: .relaxed), "subscriptions not acknowledged yet"),
            (problem == nil, "records cannot be written: \(problem ?? "")"),
        ])
    }
}
