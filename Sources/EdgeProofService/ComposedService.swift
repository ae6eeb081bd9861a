import EdgeProofMQTT
import Logging
import ServiceLifecycle
import UnixSignals

/// A component composed the one way every role runs, in the executable, the demo, the bench and the
/// tests alike: its MQTT client first, then the component, then its helpers (an allowlist watcher).
/// service-lifecycle stops services in reverse order, so the helpers stop first and the component
/// drains and publishes its offline status before its client disconnects.
public struct ComposedService<Component: Service>: Sendable {
    /// The component's connection; it runs as a service of its own.
    public let client: MQTTClient
    /// Further connections of the component (a site bridge's upstream broker, a collector's other
    /// brokers and the transport that joins them), run like `client`, before the component.
    public let additionalClients: [any Service]
    public let component: Component
    /// Services that serve the component (listed after it, so they stop before it).
    public let helpers: [any Service]

    public init(
        client: MQTTClient, additionalClients: [any Service] = [], component: Component, helpers: [any Service] = []
    ) {
        self.client = client
        self.additionalClients = additionalClients
        self.component = component
        self.helpers = helpers
    }

    /// `[client] + additionalClients + [component] + helpers`, in the order a `ServiceGroup` needs them.
    /// Several components share one group by concatenating their services: each one's clients still stop
    /// after it.
    public var services: [any Service] {
        [client] + additionalClients + [component] + helpers
    }

    /// The group an executable runs: graceful shutdown on SIGTERM and SIGINT.
    public func serviceGroup(
        gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint], logger: Logger
    ) -> ServiceGroup {
        ServiceGroup(services: services, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger)
    }

    /// Runs the executable's group until SIGTERM or SIGINT, or until a service fails.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint], logger: Logger) async throws {
        try await serviceGroup(gracefulShutdownSignals: gracefulShutdownSignals, logger: logger).run()
    }

    /// Starts the services in this process (demo, bench, tests); stop them with ``RunningServices/stop()``.
    public func start(logger: Logger) -> RunningServices {
        RunningServices(services, logger: logger)
    }
}

/// Services running in this process in one `ServiceGroup`, until ``stop()`` shuts the group down
/// gracefully, as SIGTERM does for an executable.
public final class RunningServices: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Starts `services` (compose them with ``ComposedService/services``, clients before components).
    public init(_ services: [any Service], logger: Logger) {
        let group = ServiceGroup(services: services, logger: logger)
        self.group = group
        task = Task { try await group.run() }
    }

    /// Shuts the group down gracefully, in reverse order, and waits for it; throws what a service threw.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Waits for the group to end by itself (a service that finished or failed) and throws what it threw.
    public func waitUntilFinished() async throws {
        try await task.value
    }

    /// Runs `services` while `body` runs, then stops them gracefully and waits for them.
    public static func withRunning<Result: Sendable>(
        _ services: [any Service], logger: Logger, _ body: () async throws -> Result
    ) async throws -> Result {
        let running = RunningServices(services, logger: logger)
        let result: Result
        do {
            result = try await body()
        } catch {
            try? await running.stop()
            throw error
        }
        try await running.stop()
        return result
    }
}
