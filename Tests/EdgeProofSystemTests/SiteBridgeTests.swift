import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import ServiceLifecycle
import Testing

/// Issue 15: the gateway as the edge site's bridge. Two brokers started by broker/run-broker.sh: the
/// central one (collectors, as child processes) and a site broker (`--profile site`) where the agents
/// are; the gateway `bridge-site` (a child process, so it can be killed) bridges them, its upstream
/// connection through a TCP proxy that the test pauses. Agents send pre-filled spools throughout the
/// outages; every collector must end up with every batch exactly once, and every agent with every
/// receipt (its spool empty).
@Suite("Site bridge: outages of the uplink, the gateway and the site broker lose and duplicate nothing", .serialized, .timeLimit(.minutes(10)))
struct SiteBridgeTests {
    static let collectors = ["collector-1", "collector-2"]
    static let agents = ["agent-001", "agent-002", "agent-003"]

    @Test("central broker stopped, uplink paused, gateway killed, site broker restarted: every envelope stored once, every receipt back, no drop beyond expiry")
    func outagesLoseAndDuplicateNothing() async throws {
        let perAgent = ProcessInfo.processInfo.environment["EDGEPROOF_SITE_BATCHES"].flatMap { Int($0) } ?? 150
        let clock = ContinuousClock()
        let site = try await SiteFixture(agents: Self.agents, collectors: Self.collectors)
        defer { site.close() }
        let system = site.system
        let monitor = try await FaultMonitor(system)
        var expected: [String] = []
        for agent in Self.agents { expected += try await system.prefillSpool(of: agent, count: perAgent) }

        var services: [String: ServiceProcess] = [:]
        for id in Self.collectors { services[id] = try system.collectorProcess(id) }
        // Paced so that the backlog drains over several seconds and the outages hit it mid-way.
        let gateway = try site.gatewayProcess(mode: "enforce", releasePerSecond: 120)
        services["gateway"] = gateway
        for key in ["collector/collector-1", "collector/collector-2", "gateway/\(SiteFixture.bridge)"] {
            try await monitor.waitForOnline(key)
        }

        let running = try Self.agents.map {
            try system.agent(
                $0, sampleInterval: 3600, samplesPerEnvelope: 1000, receiptsFrom: Self.collectors, nonceTimeout: 3,
                receiptTimeout: 3, broker: site.siteBroker)
        }
        let group = ServiceGroup(services: try running.flatMap { try $0.services(system.logger) }, logger: system.logger)
        var steps: [String] = []
        var left = Int.max
        let started = clock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            func note(_ step: String) async {
                steps.append("\(step) at \(secondsText(clock.now - started)) s, \(await spooledCount(running)) spooled")
            }
            try await Task.sleep(for: .seconds(1))

            // 1. The uplink cut by stopping the central broker (the collectors lose it too).
            await note("central broker stopped")
            let central = system.broker
            try await offPool { central.stop() }
            try await Task.sleep(for: .seconds(3))
            try await offPool { try central.restart() }
            await note("central broker back")
            try await Task.sleep(for: .seconds(2))

            // 2. The TCP path stalls without closing: only keepalives notice.
            await note("uplink paused")
            site.uplink.pause()
            try await Task.sleep(for: .seconds(10))
            site.uplink.resume()
            await note("uplink resumed")
            try await Task.sleep(for: .seconds(2))

            // 3. The gateway crashes (SIGKILL) and comes back.
            await note("gateway killed")
            try await offPool { gateway.kill() }
            try await Task.sleep(for: .seconds(1))
            let restarted = Date()
            try await offPool { try gateway.start() }
            try await monitor.waitForOnline("gateway/\(SiteFixture.bridge)", startedAfter: restarted, timeout: .seconds(30))
            await note("gateway back")
            try await Task.sleep(for: .seconds(1))

            // 4. The site broker restarts (agents and gateway lose it).
            await note("site broker restarting")
            let siteBroker = site.siteBroker
            try await offPool { try siteBroker.restart() }
            await note("site broker back")

            let deadline = clock.now + .seconds(150)
            left = await spooledCount(running)
            while left > 0, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                left = await spooledCount(running)
            }
            await note("drained")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }

        await system.settle(collectors: Self.collectors)
        // The site's agents' retained status reached the central broker through the bridge.
        for agent in Self.agents {
            #expect(monitor.latest("agent/\(agent)", state: .online) != nil, "no status of \(agent) at the central broker")
        }
        // The last status before the gateway stops: what its queues dropped, by reason.
        let status = try #require(monitor.latest("gateway/\(SiteFixture.bridge)", state: .online), "no status of the bridge")
        for (name, service) in services.sorted(by: { $0.key < $1.key }) {
            let graceful = try await offPool { service.stop() }
            #expect(graceful, "\(name) needed SIGKILL to stop:\n\(service.diagnostics())")
        }
        await monitor.shutdown()

        var counters: [String: Int] = [:]
        for agent in running { counters.merge(agent.counters) { $0 + $1 } }
        let relay = try #require(status.relay, "the bridge's status has no relay section")
        print(
            """
            SiteBridgeTests: \(Self.agents.count) agents × \(perAgent) = \(expected.count) batches; \(left) left in the spools
            steps: \(steps.joined(separator: "; "))
            agents: \(counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            relay: up \(relay.up), down \(relay.down)
            """)
        #expect(left == 0, "\(left) batches still in the agents' spools: receipts missing")
        for id in Self.collectors {
            let tally = try system.collectorFiles(of: id).tally(expected: expected)
            print("\(id): \(tally)")
            #expect(tally.isExact, "\(id): \(tally); \(tally.examples)")
        }
        // Nothing dropped but what the messages' own expiry asked for (nonce requests nobody waited for).
        for (direction, queue) in [("up", relay.up), ("down", relay.down)] {
            let unexpected = (queue.dropped ?? [:]).filter { $0.key != "expired" }
            #expect(unexpected.isEmpty, "the bridge dropped \(direction): \(unexpected)")
        }
    }
}

/// A site in front of a ``SystemFixture``: a site broker (`--profile site`) with the agents' and the
/// bridge's certificates from its own CA, and a TCP proxy in front of the central broker for the
/// bridge's uplink.
final class SiteFixture {
    static let bridge = "bridge-site"
    let system: SystemFixture
    let siteBroker: MosquittoBroker
    let uplink: TCPProxy

    init(agents: [String], collectors: [String]) async throws {
        system = try await SystemFixture(agents: agents, collectors: collectors, extraClients: [Self.bridge])
        siteBroker = try await MosquittoBroker.start(
            clients: agents + [Self.bridge], directory: TemporaryDirectory(at: system.directory.appending("site-broker")),
            profile: .site)
        uplink = try TCPProxy(targetPort: system.broker.port)
    }

    func close() {
        uplink.stop()
        system.processes.forEach { $0.stop() }
        siteBroker.stop()
        system.close()
    }

    var relayDirectory: URL { system.directory.appending("relay") }

    /// `bridge-site.yaml`: the site broker as `broker:`, the central one (through the proxy) as
    /// `upstream:`, keepalives of 5 s (libmosquitto's least) so that a stalled link is noticed within 7.5 s.
    func gatewayConfiguration(mode: String, releasePerSecond: Int) throws -> String {
        let central = system.broker
        return try system.write(
            "\(Self.bridge).yaml",
            """
            id: \(Self.bridge)
            mode: \(mode)
            \(siteBroker.configurationSection(for: Self.bridge))
              keepalive: 5
            \(central.configurationSection(for: Self.bridge, section: "upstream", port: uplink.port))
              keepalive: 5
            relay:
              directory: \(relayDirectory.path)
              release_per_s: \(releasePerSecond)
            allowlist_file: \(system.allowlistPath)
            status_interval_s: 0.5
            """)
    }

    func gatewayProcess(mode: String, releasePerSecond: Int) throws -> ServiceProcess {
        let path = try gatewayConfiguration(mode: mode, releasePerSecond: releasePerSecond)
        let process = try ServiceProcess.start(
            Self.bridge, arguments: ["gateway", "--config", path], logDirectory: system.logDirectory)
        system.processes.append(process)
        return process
    }
}
