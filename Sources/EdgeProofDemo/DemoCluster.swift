import EdgeProofAgent
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import ServiceLifecycle

/// `edgeproof demo --cluster ejabberd`, its last row: agent-001 drains a spool of marked batches through
/// node 1 (the enforce gateway and collector-1 are on node 2) and node 1 is killed mid-run. The agent moves
/// to node 2 (its second address); every batch must be stored exactly once.
extension DemoRunner {
    public static let nodeLossBatches = 60

    func runNodeLoss(
        cluster: EjabberdCluster, paths: DemoPaths, signer: TPMSigner?, statuses: StatusWatcher
    ) async throws -> DemoOutcome {
        let scenario = DemoScenario.clusterNodeLoss
        guard let signer else { throw DemoError("no TPM signer for \(scenario.agent)") }
        let (node1, node2) = (cluster.nodes[0], cluster.nodes[1])
        let gateway = try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: paths.config("gateway-enforce.yaml").path, environment: [:]),
            logger: serviceLogger)
        let since = Date()
        let runningGateway = gateway.start(logger: serviceLogger)

        var configuration = try AgentConfiguration.load(file: paths.config("\(scenario.agent).yaml").path, environment: [:])
        configuration.spool.directory = paths.spool.appendingPathComponent("cluster/\(scenario.agent)").path
        configuration.sampleInterval = 3600  // only the marked batches below
        let markers = (0..<Self.nodeLossBatches).map { "node-loss/\($0)" }
        try await MarkedBatches.enqueue(
            markers, into: try EnvelopeSpool(directory: URL(fileURLWithPath: configuration.spool.directory)),
            location: configuration.location, service: configuration.service)
        let agent = try Agent(configuration: configuration, signer: signer, logger: serviceLogger)
        var running: RunningServices?
        var observed: String
        var passed = false
        do {
            try await statuses.waitForOnline("gateway/gateway", after: since)
            say("started gateway (enforce) on \(node2.erlangName); \(scenario.agent) has \(Self.nodeLossBatches) marked batches to send through \(node1.erlangName)")
            running = try agent.composed().start(logger: serviceLogger)
            let started = try await Self.poll(timeout: .seconds(60), every: .milliseconds(10)) {
                await agent.spooledCount() <= Self.nodeLossBatches - 5
            }
            guard started else { throw DemoError("no batch was receipted through the cluster within 60 s") }
            let pid = cluster.pid(of: node1).map(String.init) ?? "?"
            cluster.kill(node1)
            let leftAtKill = await agent.spooledCount()
            say("killed \(node1.erlangName) (pid \(pid), SIGKILL) with \(leftAtKill) of \(Self.nodeLossBatches) batches still to send")
            // Every batch receipted (a receipt follows the collector's durable write).
            let drained = try await Self.poll(timeout: .seconds(120), every: .milliseconds(100)) {
                await agent.spooledCount() == 0 && (agent.counters["accepted"] ?? 0) >= Self.nodeLossBatches
            }
            try await running?.stop()
            running = nil
            let stored = try MarkedBatches.counts(inRecordsDirectory: paths.records)
            let lost = markers.filter { stored[$0] == nil }
            let twice = markers.filter { (stored[$0] ?? 0) > 1 }
            observed = "\(leftAtKill) left at the kill; \(markers.count - lost.count)/\(markers.count) stored via \(node2.erlangName), \(twice.count) twice"
            passed = drained && leftAtKill > 0 && lost.isEmpty && twice.isEmpty
            if !drained { observed += "; \(await agent.spooledCount()) never receipted" }
        } catch {
            try? await running?.stop()
            try? await runningGateway.stop()
            throw error
        }
        try await runningGateway.stop()
        say("node loss: \(observed)")
        return DemoOutcome(
            scenario: scenario, mode: "cluster", expectedRejectedBy: nil, observed: observed, rejection: nil, passed: passed)
    }

    private static func poll(
        timeout: Duration, every interval: Duration, _ condition: () async -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: interval)
        }
        return await condition()
    }
}
