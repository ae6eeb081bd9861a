import EdgeProofMQTT
import EdgeProofService
import EdgeProofTesting
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The one way to run a component: client first, component, helpers; stopped gracefully in reverse.
@Suite("Composed services")
struct ComposedServiceTests {
    /// Which services started, and in which order graceful shutdown ended them.
    final class Log: Sendable {
        let entries = Mutex<(started: [String], stopped: [String])>(([], []))
        var started: [String] { entries.withLock { $0.started } }
        var stopped: [String] { entries.withLock { $0.stopped } }
    }

    /// A service that notes when it started and when graceful shutdown ended it.
    final class Recorder: Service, Sendable {
        let name: String
        let log: Log

        init(_ name: String, log: Log) {
            self.name = name
            self.log = log
        }

        func run() async throws {
            log.entries.withLock { $0.started.append(name) }
            try? await gracefulShutdown()
            log.entries.withLock { $0.stopped.append(name) }
        }
    }

    @Test func helpersStopBeforeTheComponentAndTheClientStopsLast() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-composed")
        defer { directory.remove() }
        let caFile = directory.appending("ca.crt")
        try Data().write(to: caFile)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // Nothing listens on port 1: the client keeps retrying in the background until it is shut down.
        let client = try MQTTClient(
            configuration: MQTTConfiguration(port: 1, clientID: "composed", caFile: caFile.path), logger: logger)
        let log = Log()
        let composed = ComposedService(
            client: client, component: Recorder("component", log: log), helpers: [Recorder("helper", log: log)])
        #expect(composed.services.count == 3)
        #expect(composed.services.first is MQTTClient)

        let running = composed.start(logger: logger)
        // Returns as soon as both run; the deadline only covers a test process stalled by a loaded machine.
        let started = try await Poll.until(timeout: .seconds(300)) { log.started.count == 2 }
        #expect(started)
        try await running.stop()

        #expect(log.stopped == ["helper", "component"])
        // The client went with the group: it refuses work now.
        await #expect(throws: MQTTError.self) {
            try await client.publish(MQTTMessage(topic: "t", payload: Data()))
        }
    }
}
