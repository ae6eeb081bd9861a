import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofRegistrar
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

/// The registrar as it runs: a real mosquitto with the ACL's registrar role, the registrar service composed as the
/// executable composes it, and the agent's enrollment over MQTT v5 request/response.
@Suite("Registrar service over a real broker")
struct RegistrarServiceTests {
    @Test("an agent enrolls end to end through the broker and a running registrar, and the book approves it")
    func enrollsThroughBrokerAndRegistrar() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let broker = try await MosquittoBroker.start(clients: ["registrar-1", EnrollmentRig.agent, "monitor"])
        defer { broker.close() }
        let logger = Logger(label: "test.registrar-service")
        var configuration = try rig.configuration()
        configuration.broker = BrokerSettings(
            port: Int(broker.port), caFile: broker.caFile, certificateFile: broker.certificate(for: "registrar-1"),
            keyFile: broker.key(for: "registrar-1"))
        // The book the executable records into, with the agent's EK pre-registered: approved at once.
        let allowlist = AllowlistFile(path: configuration.allowlistFile)
        let recorder = EnrollmentBook(allowlist: allowlist, ledger: AttestationLedger(besideAllowlist: allowlist))
        try recorder.expect(
            name: EnrollmentRig.agent, ekPublicHash: try await rig.enrollment.ekPublicHash(), places: nil, now: Date())
        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        let composed = try Registrar.compose(configuration: configuration, recorder: recorder, logger: logger)
        let running = composed.start(logger: logger)
        let agentClient = try MQTTClient(configuration: broker.clientConfiguration(EnrollmentRig.agent), logger: logger)
        agentClient.start()
        do {
            try await statuses.waitForOnline("registrar/registrar-1")
            try await agentClient.waitUntilConnected(timeout: .seconds(10))
            let exchange = AgentEnrollment.exchange(
                over: agentClient, topics: TopicTree(), agent: EnrollmentRig.agent, timeout: .seconds(20))
            let result = try await rig.enrollment.run(exchange)
            #expect(result.status == .approved, "\(result)")
            #expect(result.trustLevel == .tpmEKCert)
            let entry = try #require(try allowlist.load().entry(named: EnrollmentRig.agent))
            #expect(entry.trustLevel == .tpmEKCert)
            #expect(entry.trust?.approvedBy == "expected")
            #expect(composed.component.counters["approved"] == 1)
        } catch {
            Issue.record("\(error)\n\(broker.diagnostics())")
        }
        await agentClient.shutdown()
        try await running.stop()
        await monitor.shutdown()
    }
}
