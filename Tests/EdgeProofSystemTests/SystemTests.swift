import EdgeProofAgent
import EdgeProofCollector
import EdgeProofCore
import EdgeProofDemo
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import ServiceLifecycle
import Testing

@Suite("The whole system: agent, gateway, collectors, real broker, real TPMs, real files", .timeLimit(.minutes(10)))
struct SystemTests {
    @Test("the prototype's scenarios and a compromised agent's attacks end as expected in both gateway modes; accepted data is stored once, rejected data not at all")
    func demoScenarios() async throws {
        let work = try TemporaryDirectory(prefix: "edgeproof-demo-test")
        defer { work.remove() }
        let report = try await DemoTurns.shared.run { try await DemoRunner(workdir: work.url) { _ in }.run() }

        // Rejections come from the collector in passthrough and from the gateway in enforce mode.
        let rejected: [String: (ValidationType, String)] = [
            "outside the geofence": (.geolocationPolicy, "location_not_allowed"),
            "not on the allowlist": (.agentVerification, "agent_not_found"),
            "duplicate member name": (.requestValidation, "malformed_envelope"),
            "trailing comma": (.requestValidation, "malformed_envelope"),
            "uppercase key hash": (.signatureVerification, "header_mismatch"),
            "timestamp outside the nonce's window": (.timestampProximity, "timestamp_skew"),
            "key not TPM-attested": (.agentVerification, "agent_not_attested"),
            "gnss outside the fence": (.geolocationPolicy, "location_outside_fence"),
            "gnss accuracy too poor": (.geolocationPolicy, "location_accuracy_insufficient"),
        ]
        let accepted: Set = ["happy path", "ten power losses of the TPM", "gnss inside the fence"]
        let refusedByBroker: Set = ["joins the collectors' nonce group"]
        let scenarios = DemoScenario.all + DemoScenario.gnss + DemoScenario.attacks + DemoScenario.faults
        // Enrollment first: two agents enrolled at tpm-ek-cert, an EK certificate of another TPM refused by the
        // registrar, and the trust blocks re-checked offline.
        let enrollment = report.outcomes.filter { $0.mode == "registrar" || $0.mode == "offline" }
        #expect(enrollment.count == DemoScenario.enrollments.count + 1)
        for outcome in enrollment { #expect(outcome.passed, "\(outcome.scenario.name): \(outcome.observed)") }
        let thief = try #require(enrollment.first { $0.scenario.agent == "agent-005" }?.rejection)
        #expect(thief.rejectedBy == .registrar)
        #expect(thief.validationType == .trustEvidence)
        #expect(thief.reasonCode == "activation_proof_invalid")

        // Operations: registrar, both gateways and the collector were ready when scraped, each scrape kept.
        let operations = report.outcomes.filter { $0.mode == "operations" }
        #expect(operations.filter { $0.scenario.expectation == .scraped }.count == 4)
        for outcome in operations { #expect(outcome.passed, "\(outcome.scenario.name): \(outcome.observed)") }
        // The collector's OTLP JSON output: a line per record, each re-verified from the line alone.
        let otlp = try #require(operations.first { $0.scenario.expectation == .otlpRecords })
        let stored = report.verification.filter { $0.file.contains("/records/") }.reduce(0) { $0 + $1.records }
        #expect(otlp.observed.contains("\(stored) OTLP lines"), "\(otlp.observed)")
        #expect(report.verification.contains { $0.file.contains("/otlp/metrics") && $0.allVerified })
        // An application's OTLP/HTTP export to agent-001 arrives signed and stored.
        let application = try #require(report.outcomes.first { $0.mode == "otlp" })
        #expect(application.passed, "\(application.observed)")
        #expect(application.observed.contains("app_temperature_celsius 21.5"), "\(application.observed)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: work.appending("metrics").path).sorted()
        #expect(kept == ["agent-agent-001.prom", "collector-collector-1.prom", "gateway-gateway.prom", "registrar-registrar-1.prom"])

        let envelopes = report.outcomes.filter { DemoRunner.modes.contains($0.mode) }
        #expect(envelopes.count == scenarios.count * DemoRunner.modes.count)
        #expect(Set(scenarios.map(\.name)) == Set(rejected.keys).union(accepted).union(refusedByBroker))
        for outcome in envelopes {
            let key = "\(outcome.scenario.name)/\(outcome.mode)"
            #expect(outcome.passed, "\(key): \(outcome.observed)")
            if let (type, reason) = rejected[outcome.scenario.name] {
                let rejection = try #require(outcome.rejection, "\(key) was not rejected")
                #expect(rejection.rejectedBy == (outcome.mode == "enforce" ? .gateway : .collector), "\(key)")
                #expect(rejection.validationType == type, "\(key)")
                #expect(rejection.reasonCode == reason, "\(key)")
            } else if refusedByBroker.contains(outcome.scenario.name) {
                #expect(outcome.observed == "refused by the broker (135)", "\(key)")
            } else {
                #expect(outcome.rejection == nil, "\(key)")
                #expect(outcome.observed == "accepted", "\(key)")
            }
        }

        // The site: agent-001 on the site broker, through the bridging gateway, before and across an uplink cut.
        let site = report.outcomes.filter { $0.mode == "site" }
        #expect(site.map(\.scenario.name) == DemoScenario.site.map(\.name))
        for outcome in site { #expect(outcome.passed, "\(outcome.scenario.name): \(outcome.observed)") }

        // A second partition: agent-001 accepted on broker b by the same collector; its envelope replayed through
        // the first broker refused by that collector's one replay cache.
        let partition = report.outcomes.filter { $0.mode == "partition" }
        #expect(partition.map(\.scenario.name) == DemoScenario.partition.map(\.name))
        for outcome in partition { #expect(outcome.passed, "\(outcome.scenario.name): \(outcome.observed)") }
        #expect(partition.last?.rejection?.reasonCode == "nonce_replayed")

        // Only the accepted envelopes are stored, each once: agent-001's two and agent-006's one per mode,
        // agent-001's two through the site and its one on partition b, and the two of its OTLP phase (its own
        // first sample, and the application's points).
        let lines = try FileManager.default.contentsOfDirectory(at: report.recordsDirectory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("records-") }
            .flatMap { try Data(contentsOf: $0).split(separator: UInt8(ascii: "\n")) }
        let records = try lines.map { try JSONDecoder().decode(StoredRecord.self, from: Data($0)) }
        // Each record says how strongly its key was proven when it was accepted.
        #expect(records.allSatisfy { $0.trustLevel == .tpmEKCert && $0.attestedAt != nil })
        #expect(records.count == accepted.count * DemoRunner.modes.count + DemoScenario.site.count + 1 + 2)
        #expect(records.filter { $0.metrics.samples.contains { $0.metricType == "otlp" } }.count == 1)
        #expect(records.allSatisfy { $0.agentName == "agent-001" || $0.agentName == "agent-006" })
        // agent-006's records carry its receiver's fix, inside the fence, with the receiver's GST accuracy.
        let gnss = records.filter { $0.agentName == "agent-006" }
        #expect(gnss.count == DemoRunner.modes.count)
        for record in gnss {
            #expect(record.geolocation?.source == .gnss)
            #expect(record.geolocation?.sensor?.driver == "NMEA0183")
            #expect(record.geolocation?.accuracyMeters == 4.9)
        }
        #expect(Set(records.map(\.nonce)).count == records.count)
        #expect(report.verification.allSatisfy { $0.allVerified })
    }

    @Test("two collectors both store every accepted envelope, whichever of them issued its nonce")
    func twoCollectorsStoreEverything() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1", "collector-2"])
        defer { system.close() }
        let (monitor, statuses) = try await system.monitor()
        let services = ServiceGroup(
            services: try system.collector("collector-1").services + system.collector("collector-2").services
                + system.gateway().services,
            logger: system.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            for component in ["collector/collector-1", "collector/collector-2", "gateway/gateway"] {
                try await statuses.waitForOnline(component)
            }
            // Generous timeouts: this is about where envelopes end up, and a loaded CI machine is slow.
            let agent = try system.agent("agent-001", nonceTimeout: 30, receiptTimeout: 30)
            var nonces: Set<String> = []
            for _ in 0..<6 {
                guard case .accepted(let receipt) = try await agent.runOnce() else {
                    Issue.record("an envelope was not accepted")
                    continue
                }
                nonces.insert(receipt.nonce)
            }
            #expect(nonces.count == 6)
            await services.triggerGracefulShutdown()
            try await group.waitForAll()

            for collector in ["collector-1", "collector-2"] {
                let stored = try system.records(of: collector)
                #expect(stored.count == 6, "\(collector)")
                #expect(Set(stored.map(\.nonce)) == nonces, "\(collector)")
            }
            // The shared subscription spread the nonce requests: each collector issued some of them.
            try await Task.sleep(for: .milliseconds(200))
            for collector in ["collector-1", "collector-2"] {
                let issued = statuses.latest("collector/\(collector)")?.counters?["nonces_issued"] ?? 0
                #expect(issued >= 1, "\(collector) issued \(issued) nonces")
            }
        }
        await monitor.shutdown()
    }

    @Test("samples taken while the broker is down, across an agent restart, all arrive exactly once")
    func survivesBrokerOutageAndAgentRestart() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1"])
        defer { system.close() }
        let (monitor, statuses) = try await system.monitor()
        let services = ServiceGroup(
            services: try system.collector("collector-1").services + system.gateway().services, logger: system.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/gateway")

            system.broker.stop()
            // First agent process: samples while offline, then stops (its batches stay in the spool).
            let first = try system.agent("agent-001", sampleInterval: 0.2)
            let firstGroup = ServiceGroup(services: try first.services(system.logger), logger: system.logger)
            try await withThrowingTaskGroup(of: Void.self) { agentGroup in
                agentGroup.addTask { try await firstGroup.run() }
                // At least three batches taken offline (a loaded machine may sample late).
                let deadline = ContinuousClock.now + .seconds(30)
                while await first.spooledCount() < 3, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                await firstGroup.triggerGracefulShutdown()
                try await agentGroup.waitForAll()
            }
            let spooledOffline = await first.spooledCount()
            #expect(spooledOffline >= 3)

            // Second agent process on the same spool; the broker comes back while it runs.
            let second = try system.agent("agent-001", sampleInterval: 3600)
            let secondGroup = ServiceGroup(services: try second.services(system.logger), logger: system.logger)
            try await withThrowingTaskGroup(of: Void.self) { agentGroup in
                agentGroup.addTask { try await secondGroup.run() }
                try await Task.sleep(for: .milliseconds(300))
                try await system.broker.restart()
                let deadline = ContinuousClock.now + .seconds(45)
                while await second.spooledCount() > 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                await secondGroup.triggerGracefulShutdown()
                try await agentGroup.waitForAll()
            }
            #expect(await second.spooledCount() == 0)
            await services.triggerGracefulShutdown()
            try await group.waitForAll()

            let stored = try system.records(of: "collector-1")
            let samples = stored.flatMap { record in record.metrics.samples.map(\.timestamp) }
            #expect(stored.count >= spooledOffline)
            #expect(Set(stored.map(\.nonce)).count == stored.count, "an envelope was stored twice")
            #expect(Set(samples).count == samples.count, "a sample was stored twice")
        }
        await monitor.shutdown()
    }
}
