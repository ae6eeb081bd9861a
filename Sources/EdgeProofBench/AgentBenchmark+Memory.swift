import EdgeProofCollector
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging
import ServiceLifecycle

/// The agent's resident memory: the real `edgeproof agent` as a child process, its VmRSS read from
/// `/proc/PID/status` every 100 ms.
///
/// A TLS broker of its own, a collector and a gateway in passthrough mode run in this process; the
/// agent's ECC key is on the allowlist, so every envelope it sends is verified and receipted. Two runs
/// of the agent, each stopped (SIGTERM to its pid) before the next:
/// - idle: `sample_interval_s` of an hour; once its first envelope is accepted and it settled, watched
///   for ``AgentBenchmark/idleSeconds``;
/// - sending: `sample_interval_s` of ``AgentBenchmark/sendingInterval``, sending continuously; watched
///   for ``AgentBenchmark/sendingSeconds`` from its first accepted envelope.
extension AgentBenchmark {
    public struct MemoryFigures: Sendable {
        /// Highest VmRSS seen, in MiB.
        public var idleMegabytes: Double
        public var sendingMegabytes: Double
        /// Envelopes each agent had receipted when it stopped (its own `accepted` counter), and how long
        /// the sending one ran.
        public var idleAccepted: Int
        public var sendingAccepted: Int
        public var sendingDuration: Double
        public var peakMegabytes: Double { max(idleMegabytes, sendingMegabytes) }
    }

    static let agentName = "bench-agent"
    /// How long the idle agent may settle after its first receipt before it is watched.
    static let settleSeconds = 1.0

    func measureMemory(tcti: String, handle: PersistentHandle, key: AgentPublicKey) async throws -> MemoryFigures {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-agent")
        defer { work.remove() }
        let broker = try await MosquittoBroker.start(
            clients: ["gateway", "collector-1", "monitor", Self.agentName],
            directory: TemporaryDirectory(at: work.appending("broker")))
        defer { broker.stop() }
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical

        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: Self.agentName, key: key, createdAt: Timestamp.string(from: Date()),
                allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        let services = ServiceGroup(
            services: try BenchServices.collectorAndGateway(
                allowlist: allowlist, gatewayMode: .passthrough, work: work, broker: broker, logger: logger),
            logger: logger)
        let figures: MemoryFigures
        do {
            figures = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await services.run() }
                defer { group.cancelAll() }
                do {
                    try await statuses.waitForOnline("collector/collector-1")
                    try await statuses.waitForOnline("gateway/gateway")
                    let run = AgentRun(
                        work: work, broker: broker, statuses: statuses, tcti: tcti, handle: handle,
                        executable: executable)
                    let idle = try await run.watch(
                        "idle", sampleInterval: 3600, settle: Self.settleSeconds, seconds: idleSeconds)
                    let sending = try await run.watch(
                        "sending", sampleInterval: sendingInterval, settle: 0, seconds: sendingSeconds)
                    await services.triggerGracefulShutdown()
                    try await group.waitForAll()
                    return MemoryFigures(
                        idleMegabytes: idle.peakMegabytes, sendingMegabytes: sending.peakMegabytes,
                        idleAccepted: idle.accepted, sendingAccepted: sending.accepted,
                        sendingDuration: sending.duration)
                } catch {
                    await services.triggerGracefulShutdown()
                    throw error
                }
            }
        } catch {
            await monitor.shutdown()
            throw error
        }
        await monitor.shutdown()
        return figures
    }
}

/// One configuration of the agent child: start it, wait for its first receipt, watch its VmRSS, stop it.
private struct AgentRun {
    let work: TemporaryDirectory
    let broker: MosquittoBroker
    let statuses: StatusWatcher
    let tcti: String
    let handle: PersistentHandle
    let executable: String

    struct Observation {
        var peakMegabytes: Double
        var accepted: Int
        var duration: Double
    }

    func watch(_ label: String, sampleInterval: Double, settle: Double, seconds: Double) async throws -> Observation {
        let config = work.appending("agent-\(label).yaml")
        try Data(
            """
            name: \(AgentBenchmark.agentName)
            \(broker.configurationSection(for: AgentBenchmark.agentName))
            tpm:
              tcti: "\(tcti)"
              handle: "\(handle)"
            location: "US/California/Santa Clara"
            sample_interval_s: \(sampleInterval)
            spool:
              directory: \(work.appending("spool-\(label)").path)
            nonce_timeout_s: 10
            receipt_timeout_s: 15
            """.utf8
        ).write(to: config)

        let started = Date()
        let clock = ContinuousClock()
        let start = clock.now
        let agent = try ComponentProcess.start(
            "agent-\(label)", arguments: ["agent", "--config", config.path], logDirectory: work.appending("logs"),
            executable: executable)
        defer { agent.stop() }
        do {
            try await waitForFirstReceipt(agent)
            try await Task.sleep(for: .milliseconds(Int64(settle * 1000)))
            var peak = 0.0
            let watchEnd = clock.now + .milliseconds(Int64(seconds * 1000))
            repeat {
                guard let pid = agent.pid, let megabytes = ResidentMemory.of(pid: pid)?.current else {
                    throw BenchmarkError("the \(label) agent stopped\n\(agent.diagnostics())")
                }
                peak = max(peak, megabytes)
                try await Task.sleep(for: .milliseconds(100))
            } while clock.now < watchEnd
            guard agent.stop() else {
                throw BenchmarkError("the \(label) agent ignored SIGTERM\n\(agent.diagnostics())")
            }
            let duration = clock.now - start
            try await statuses.waitForOffline("agent/\(AgentBenchmark.agentName)", after: started)
            let accepted = statuses.latest("agent/\(AgentBenchmark.agentName)")?.counters?["accepted"] ?? 0
            return Observation(
                peakMegabytes: peak, accepted: accepted,
                duration: EdgeProofBench.seconds(duration))
        } catch {
            throw BenchmarkError("\(error)\n\(agent.diagnostics())")
        }
    }

    /// Until the agent logged its first accepted envelope (60 s at most).
    private func waitForFirstReceipt(_ agent: ComponentProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let log = try? String(contentsOf: agent.logFile, encoding: .utf8), log.contains("envelope accepted") {
                return
            }
            guard agent.isRunning else { throw BenchmarkError("the agent exited before sending") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchmarkError("the agent had no envelope accepted within 60 s")
    }
}
