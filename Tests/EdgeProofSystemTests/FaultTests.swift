import EdgeProofAgent
import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import ServiceLifecycle
import Testing

/// Issue 5, item 3: crashes of the collector, the gateway and the broker, a full disk and an unwritable
/// records directory. Collectors and the gateway run as child processes (the built `edgeproof`), so
/// they can be killed with SIGKILL; agents run in process with their TPMs and a pre-filled spool of
/// batches that each carry a unique marker. Every agent needs the receipt of every collector
/// (`receipts_from`), so every collector must end up with every batch exactly once.
///
/// Environment: `EDGEPROOF_FAULT_SEED` repeats a crash schedule (the seed is printed),
/// `EDGEPROOF_FAULT_BATCHES` sets the batches per agent of the crash test (default 400).
@Suite("Faults: crashes, a full disk and an unwritable directory lose and duplicate nothing", .serialized, .timeLimit(.minutes(10)))
struct FaultTests {
    static let collectors = ["collector-1", "collector-2"]

    // MARK: - Crashes

    @Test("kill -9 of the collectors, the gateway and the broker at random moments: every collector stores every envelope exactly once, every line parses")
    func crashesLoseAndDuplicateNothing() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["EDGEPROOF_FAULT_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let perAgent = environment["EDGEPROOF_FAULT_BATCHES"].flatMap { Int($0) } ?? 400
        let agents = ["agent-001", "agent-002", "agent-003", "agent-004"]
        print("FaultTests: seed \(seed) (EDGEPROOF_FAULT_SEED=\(seed) repeats this crash schedule)")
        let clock = ContinuousClock()
        let began = clock.now

        let system = try await SystemFixture(agents: agents, collectors: Self.collectors)
        defer { system.close() }
        let monitor = try await FaultMonitor(system)
        var expected: [String] = []
        for agent in agents { expected += try await system.prefillSpool(of: agent, count: perAgent) }

        var services: [String: ServiceProcess] = [:]
        for id in Self.collectors { services[id] = try system.collectorProcess(id) }
        services["gateway"] = try system.gatewayProcess(mode: "enforce")
        for key in ["collector/collector-1", "collector/collector-2", "gateway/gateway"] {
            try await monitor.waitForOnline(key)
        }

        let running = try agents.map { try fastAgent($0, system) }
        let group = ServiceGroup(services: try running.flatMap { try $0.services(system.logger) }, logger: system.logger)
        var faults: [String] = []
        var left = Int.max
        let sendingStarted = clock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }

            // Every target three times, in a seeded order, at seeded moments, down for a seeded while;
            // stops early when the spools are empty.
            var random = SplitMix64(seed: seed)
            let targets = Self.collectors + ["gateway", "broker"]
            for target in (targets + targets + targets).shuffled(using: &random) {
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1500, using: &random)))
                let downFor = Duration.milliseconds(Int.random(in: 100...1500, using: &random))
                if await spooledCount(running) == 0 { break }
                let at = clock.now - sendingStarted
                try await crash(target, downFor: downFor, system: system, services: services, monitor: monitor)
                faults.append("\(target) at \(secondsText(at)) s, down \(secondsText(downFor)) s")
            }

            let deadline = clock.now + .seconds(120)
            left = await spooledCount(running)
            while left > 0, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                left = await spooledCount(running)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let sendingTook = clock.now - sendingStarted

        await system.settle(collectors: Self.collectors)
        for (name, service) in services.sorted(by: { $0.key < $1.key }) {
            if !service.isRunning { Issue.record("\(name) is not running at the end:\n\(service.diagnostics())") }
            let graceful = try await offPool { service.stop() }
            #expect(graceful, "\(name) needed SIGKILL to stop:\n\(service.diagnostics())")
        }
        await monitor.shutdown()

        var counters: [String: Int] = [:]
        for agent in running { counters.merge(agent.counters) { $0 + $1 } }
        var tallies: [String: StorageTally] = [:]
        var events: [String: String] = [:]
        for id in Self.collectors {
            let files = try system.collectorFiles(of: id)
            tallies[id] = files.tally(expected: expected)
            events[id] = files.eventSummary
        }
        print(
            """
            FaultTests crash run: seed \(seed); \(agents.count) agents × \(perAgent) = \(expected.count) batches; \
            sending took \(secondsText(sendingTook)) s, test \(secondsText(clock.now - began)) s; \
            \(left) batches left in the spools
            faults: \(faults.joined(separator: "; "))
            agents: \(Self.describe(counters))
            """)
        for id in Self.collectors {
            print("\(id): \(tallies[id]!); events file: \(events[id]!)")
        }

        #expect(left == 0, "\(left) batches still in the agents' spools after the deadline")
        for id in Self.collectors {
            expectEveryBatchOnce(try #require(tallies[id]), in: id, after: "crashes")
        }
    }

    /// Kills `target` with SIGKILL, waits `downFor`, starts it again and waits until it is back.
    private func crash(
        _ target: String, downFor: Duration, system: SystemFixture, services: [String: ServiceProcess],
        monitor: FaultMonitor
    ) async throws {
        if target == "broker" {
            let broker = system.broker
            try await offPool { broker.kill() }
            try await Task.sleep(for: downFor)
            try await offPool { try broker.restart() }
            return
        }
        let service = try #require(services[target])
        try await offPool { service.kill() }
        try await Task.sleep(for: downFor)
        let restarted = Date()
        try await offPool { try service.start() }
        let key = target == "gateway" ? "gateway/gateway" : "collector/\(target)"
        do {
            try await monitor.waitForOnline(key, startedAfter: restarted, timeout: .seconds(30))
        } catch {
            Issue.record("\(target) did not come back: \(error)\n\(service.diagnostics())")
        }
    }

    // MARK: - Storage failures

    @Test(
        "a full disk: the collector sends no receipts and reports store_failed; once space returns, every envelope is stored exactly once",
        .enabled(if: FaultEnvironment.canMountTmpfs, "mounting a small tmpfs needs root with CAP_SYS_ADMIN"))
    func fullDiskDelaysStorageWithoutLoss() async throws {
        try await storageFailure("full disk") { system, records in
            let disk = try SmallFileSystem.mount(at: records, bytes: 1024 * 1024)
            let filled = try disk.fill()
            guard !disk.hasSpace() else {
                disk.unmount()
                throw TestFixtureError("the tmpfs on \(records.path) still has space after a \(filled)-byte filler")
            }
            return StorageBlock(release: { try disk.free() }, cleanUp: { disk.unmount() })
        }
    }

    @Test(
        "an unwritable records directory: the collector sends no receipts and reports store_failed; once writable, every envelope is stored exactly once",
        .enabled(if: !FaultEnvironment.isRoot || FaultEnvironment.canMakeImmutable, "chattr +i does not work here"))
    func unwritableDirectoryDelaysStorageWithoutLoss() async throws {
        try await storageFailure("unwritable directory") { _, records in
            try FileManager.default.createDirectory(at: records, withIntermediateDirectories: true)
            // Root ignores permission bits; the immutable attribute stops even root from creating files.
            let (lock, unlock) =
                FaultEnvironment.isRoot
                ? (["chattr", "+i", records.path], ["chattr", "-i", records.path])
                : (["chmod", "0555", records.path], ["chmod", "0755", records.path])
            let locked = try ProcessRunner.run(lock[0], Array(lock.dropFirst()))
            guard locked.status == 0 else {
                throw TestFixtureError("\(lock.joined(separator: " ")): \(locked.standardError)")
            }
            let probe = records.appendingPathComponent("probe")
            guard !FileManager.default.createFile(atPath: probe.path, contents: nil) else {
                throw TestFixtureError("\(records.path) is still writable after \(lock.joined(separator: " "))")
            }
            let release = {
                let result = try ProcessRunner.run(unlock[0], Array(unlock.dropFirst()))
                guard result.status == 0 else {
                    throw TestFixtureError("\(unlock.joined(separator: " ")): \(result.standardError)")
                }
            }
            return StorageBlock(release: release, cleanUp: { try? release() })
        }
    }

    struct StorageBlock {
        /// Makes the records directory writable again.
        var release: () throws -> Void
        /// Undoes everything (in a `defer`, after the collector stopped).
        var cleanUp: () -> Void
    }

    /// One agent, two collectors (collector-1's records directory blocked by `block` before it starts),
    /// the gateway in enforce mode. While blocked, collector-1 stores nothing and sends no receipt, and
    /// the envelopes stay in the agent's spool; after the release, both collectors hold every batch once.
    private func storageFailure(
        _ fault: String, block: (SystemFixture, URL) throws -> StorageBlock
    ) async throws {
        let clock = ContinuousClock()
        let began = clock.now
        let count = 20
        let blockedFor = Duration.seconds(7)
        let system = try await SystemFixture(agents: ["agent-001"], collectors: Self.collectors)
        defer { system.close() }
        let monitor = try await FaultMonitor(system)

        let records = system.recordsDirectory("collector-1")
        let blocked = try block(system, records)
        defer {
            system.processes.forEach { $0.stop() }
            blocked.cleanUp()
        }
        // Events elsewhere: only the records write fails, and the events file keeps the store_failed
        // events.
        let events = system.directory.appending("events-collector-1")
        let collector = try system.collectorProcess(
            "collector-1",
            extra: """
                events_directory: \(events.path)
                """)
        _ = try system.collectorProcess("collector-2")
        _ = try system.gatewayProcess(mode: "enforce")
        for key in ["collector/collector-1", "collector/collector-2", "gateway/gateway"] {
            try await monitor.waitForOnline(key)
        }

        let expected = try await system.prefillSpool(of: "agent-001", count: count)
        let agent = try fastAgent("agent-001", system)
        let group = ServiceGroup(services: try agent.services(system.logger), logger: system.logger)
        var spooledWhileBlocked = -1
        var left = -1
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }

            let reported = await monitor.waitForEvent(
                "store_failed", from: "collector", "collector-1", timeout: .seconds(30))
            #expect(reported, "collector-1 published no store_failed event (\(fault))\n\(collector.diagnostics())")
            let degraded = monitor.latest("collector/collector-1", state: .degraded)
            #expect(degraded?.problem?.isEmpty == false, "collector-1's status does not report the problem (\(fault))")
            try await Task.sleep(for: blockedFor)
            spooledWhileBlocked = await agent.spooledCount()
            #expect(
                system.recordLineCount(of: "collector-1") == 0, "collector-1 stored something while blocked (\(fault))")
            let acknowledged = monitor.events("accepted", from: "collector", "collector-1").count
            #expect(
                acknowledged == 0, "collector-1 acknowledged \(acknowledged) envelopes it could not store (\(fault))")
            #expect(
                spooledWhileBlocked == count,
                "the agent let \(count - spooledWhileBlocked) of \(count) envelopes go without collector-1's receipt")

            try blocked.release()
            let deadline = clock.now + .seconds(90)
            left = await agent.spooledCount()
            while left > 0, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                left = await agent.spooledCount()
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }

        await system.settle(collectors: Self.collectors)
        for service in system.processes {
            let graceful = try await offPool { service.stop() }
            #expect(graceful, "\(service.name) needed SIGKILL to stop:\n\(service.diagnostics())")
        }
        // The offline status (published at a graceful stop) carries the final counters.
        try await Task.sleep(for: .milliseconds(300))
        let storeFailed = monitor.latest("collector/collector-1", state: .offline)?.counters?["store_failed"] ?? 0
        await monitor.shutdown()
        let log = (try? String(contentsOf: collector.logFile, encoding: .utf8)) ?? ""

        let files = try system.collectorFiles(of: "collector-1", eventsDirectory: events)
        let tallies = [
            "collector-1": files.tally(expected: expected),
            "collector-2": try system.collectorFiles(of: "collector-2").tally(expected: expected),
        ]
        print(
            """
            FaultTests \(fault): \(count) batches; \(spooledWhileBlocked) still spooled after \
            \(secondsText(blockedFor)) s blocked, \(left) left at the end; collector-1 store_failed counter \(storeFailed), \
            store_failed events in its file \(files.events.filter { $0.kind == "store_failed" }.count); \
            test \(secondsText(clock.now - began)) s
            collector-1: \(tallies["collector-1"]!); events file: \(files.eventSummary)
            collector-2: \(tallies["collector-2"]!)
            agent: \(Self.describe(agent.counters))
            """)

        #expect(storeFailed >= 1, "collector-1's status counters show no store_failed (\(fault))")
        #expect(
            files.events.contains { $0.kind == "store_failed" }, "collector-1's events file has no store_failed event")
        #expect(log.contains("cannot store"), "collector-1 did not log the failed write (\(fault))")
        #expect(left == 0, "\(left) batches still in the agent's spool after the release (\(fault))")
        for (id, tally) in tallies.sorted(by: { $0.key < $1.key }) {
            expectEveryBatchOnce(tally, in: id, after: fault)
        }
    }

    // MARK: - Helpers

    /// Every sent batch stored once by collector `id`: none lost, none twice (by marker and by nonce),
    /// nothing else, and every line of its records and events files parses.
    private func expectEveryBatchOnce(
        _ tally: StorageTally, in id: String, after fault: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let context = "\(id) after \(fault): \(tally.examples)"
        #expect(tally.missing.count == 0, "\(id) lost \(tally.missing.count) batches; \(context)", sourceLocation: sourceLocation)
        #expect(
            tally.duplicated.count == 0, "\(id) stored \(tally.duplicated.count) batches more than once; \(context)",
            sourceLocation: sourceLocation)
        #expect(
            tally.repeatedNonces.count == 0, "\(id) stored \(tally.repeatedNonces.count) nonces more than once",
            sourceLocation: sourceLocation)
        #expect(tally.unexpected.count == 0, "\(id) stored batches nobody sent; \(context)", sourceLocation: sourceLocation)
        #expect(tally.unparsable.count == 0, "\(id) has lines that do not parse; \(context)", sourceLocation: sourceLocation)
    }

    /// An agent that makes no batches of its own (it sends its pre-filled spool), needs the receipt of
    /// both collectors, and gives up waiting after 2 s.
    private func fastAgent(_ name: String, _ system: SystemFixture) throws -> Agent {
        try system.agent(
            name, sampleInterval: 3600, samplesPerEnvelope: 1000, receiptsFrom: Self.collectors, nonceTimeout: 2,
            receiptTimeout: 2)
    }

    private static func describe(_ counters: [String: Int]) -> String {
        counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}
