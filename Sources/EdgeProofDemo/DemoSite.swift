import EdgeProofAgent
import EdgeProofCore
import EdgeProofGateway
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofService
import EdgeProofTPM
import Foundation
import ServiceLifecycle

/// The edge site of the demo: a site broker (`run-broker.sh --profile site`) where agent-001 now
/// connects, and the site's gateway `bridge-site` (enforce mode, `upstream:` = the central broker, seen
/// through a TCP proxy that plays the uplink) carrying its traffic to collector-1 and the answers back.
extension DemoRunner {
    static let bridge = "bridge-site"

    func runSite(
        paths: DemoPaths, central: MosquittoBroker, signer: TPMSigner?, statuses: StatusWatcher
    ) async throws -> [DemoOutcome] {
        guard let signer else { throw DemoError("no TPM signer for agent-001") }
        let agentName = DemoScenario.site[0].agent
        let site = try await MosquittoBroker.start(
            clients: [agentName, Self.bridge], directory: TemporaryDirectory(at: paths.siteBroker), profile: .site)
        defer { site.stop() }
        let uplink = try TCPProxy(targetPort: central.port)
        defer { uplink.stop() }
        say("started the site broker (pid \(site.pid.map(String.init) ?? "?")) on 127.0.0.1:\(site.port), profile site; the uplink to the central broker runs through 127.0.0.1:\(uplink.port)")

        let configuration = """
            id: \(Self.bridge)
            mode: enforce
            \(site.configurationSection(for: Self.bridge))
            \(central.configurationSection(for: Self.bridge, section: "upstream", port: uplink.port))
            relay:
              directory: \(paths.relay.path)
            allowlist_file: \(paths.allowlist.path)
            require_trust_level: tpm-ek-cert
            """
        try Data(configuration.utf8).write(to: paths.config("gateway-site.yaml"))
        let since = Date()
        let gateway = try Gateway.compose(
            configuration: try GatewayConfiguration.load(file: paths.config("gateway-site.yaml").path, environment: [:]),
            logger: serviceLogger)
        let running = gateway.start(logger: serviceLogger)
        var outcomes: [DemoOutcome] = []
        do {
            try await statuses.waitForOnline("gateway/\(Self.bridge)", after: since)
            say("started \(Self.bridge): site broker → central broker, durable queues in relay/")

            var agentConfiguration = try AgentConfiguration.load(file: paths.config("\(agentName).yaml").path, environment: [:])
            agentConfiguration.broker = BrokerSettings(
                port: Int(site.port), caFile: site.caFile, certificateFile: site.certificate(for: agentName),
                keyFile: site.key(for: agentName))
            agentConfiguration.spool.directory = paths.spool.appendingPathComponent("site/\(agentName)").path
            let agent = try Agent(configuration: agentConfiguration, signer: signer, logger: serviceLogger)

            outcomes.append(Self.outcome(DemoScenario.site[0], try await agent.runOnce(), note: ""))

            // The uplink goes down: the agent's nonce request waits in the bridge's durable queue.
            uplink.cut()
            let cutAt = ContinuousClock.now
            let sending = Task { try await agent.runOnce() }
            // Until the request is in the bridge's queue (a loaded machine may take a while), and the
            // outage's length at least.
            let bridge = gateway.component
            func cutAndQueued(_ status: RelayStatus?) -> Bool {
                (status?.up.messages ?? 0) > 0 && status?.upstreamConnected == false
            }
            var waiting = await bridge.relayStatus()
            while !cutAndQueued(waiting), ContinuousClock.now - cutAt < .seconds(15) {
                try await Task.sleep(for: .milliseconds(100))
                waiting = await bridge.relayStatus()
            }
            try await Task.sleep(until: cutAt + .seconds(DemoScenario.siteOutageSeconds))
            // What waits at the end of the outage (the agent's status and its nonce request, at least).
            if cutAndQueued(waiting), let atRestore = await bridge.relayStatus(), cutAndQueued(atRestore) {
                waiting = atRestore
            }
            uplink.restore()
            let restoredAt = ContinuousClock.now
            let outcome = try await sending.value
            let after = ContinuousClock.now - restoredAt
            let queued = waiting.map { "\($0.up.messages) queued at the bridge" } ?? "no relay status"
            say("uplink cut for \(Self.seconds(restoredAt - cutAt)) s: \(queued); the receipt came \(Self.seconds(after)) s after it returned")
            var result = Self.outcome(DemoScenario.site[1], outcome, note: "\(queued), receipt +\(Self.seconds(after)) s; ")
            result.passed = result.passed && cutAndQueued(waiting)
            outcomes.append(result)
        } catch {
            try? await running.stop()
            throw error
        }
        try await running.stop()
        say("stopped \(Self.bridge) and the site broker")
        return outcomes
    }

    private static func outcome(_ scenario: DemoScenario, _ outcome: AgentOutcome, note: String) -> DemoOutcome {
        switch outcome {
        case .accepted:
            DemoOutcome(
                scenario: scenario, mode: "site", expectedRejectedBy: nil, observed: note + "accepted", rejection: nil,
                passed: true)
        case .rejected(let rejection):
            DemoOutcome(
                scenario: scenario, mode: "site", expectedRejectedBy: nil,
                observed: note + "rejected (\(rejection.reasonCode ?? "?"))", rejection: rejection, passed: false)
        case .pendingInSpool:
            DemoOutcome(
                scenario: scenario, mode: "site", expectedRejectedBy: nil, observed: note + "no answer (kept in spool)",
                rejection: nil, passed: false)
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
