import Crypto
import EdgeProofAgent
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Synchronization
import Testing

/// Whatever the TPM, the configuration or the application metrics file do, the agent either sends or says
/// why not, and recovers when the cause goes away: real swtpm, real mosquitto, the FakeCloud collector.
@Suite(.serialized, .timeLimit(.minutes(10))) struct AgentRecoveryTests {

    private func sampleTimes(_ cloud: FakeCloud) -> [String] {
        cloud.envelopes.flatMap { $0.envelope.claims.metrics.samples.map(\.timestamp) }
    }

    // MARK: - TPM

    @Test func agentSignsAndSendsAfterTenPowerLosses() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let digest = SHA256.hash(data: Data("between power losses".utf8))
        for _ in 0..<10 {
            // The signer keeps its device (and ESAPI context) across the losses, as a running agent does.
            let signature = try await rig.signer.signature(forDigest: digest)
            #expect(rig.publicKey.isValidSignature(signature, forDigest: digest))
            rig.tpm.kill()
            try await rig.tpm.restart()
        }
        let status = try await rig.signer.device.dictionaryAttackStatus()
        #expect(status.failures == 0, "\(status)")
        #expect(!status.inLockout)

        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        let agent = try Agent(configuration: rig.configuration(), signer: rig.signer, logger: testLogger)
        let outcome = try await agent.runOnce()
        await cloud.shutdown()
        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome); problems: \(cloud.problems.withLock { $0 })")
            return
        }
        #expect(agent.problems.isEmpty)
    }

    @Test func agentServiceStartedWhileItsTPMIsDownWaitsAndSendsOnceItIsBack() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        defer { Task { await cloud.shutdown() } }
        let config = rig.work.appending("agent.yaml")
        try Data(
            """
            name: agent-001
            broker:
              host: 127.0.0.1
              port: \(rig.broker.port)
              ca_file: \(rig.broker.caFile)
              cert_file: \(rig.broker.certificate(for: "agent-001"))
              key_file: \(rig.broker.key(for: "agent-001"))
            tpm:
              tcti: \(rig.tpm.tcti)
            location: US/California/Santa Clara
            sample_interval_s: 0.5
            spool:
              directory: \(rig.work.appending("spool").path)
            nonce_timeout_s: 5
            receipt_timeout_s: 5
            """.utf8
        ).write(to: config)

        rig.tpm.kill()
        let agent = try ServiceProcess.start(
            "agent", arguments: ["agent", "--config", config.path], logDirectory: rig.work.appending("logs"))
        defer { _ = agent.stop() }
        let waiting = try await Poll.until(timeout: .seconds(20)) {
            agent.diagnostics().contains("the TPM is unavailable")
        }
        #expect(waiting, "the agent says it waits for the TPM: \(agent.diagnostics())")
        #expect(agent.isRunning, "the agent does not give up while the TPM is away: \(agent.diagnostics())")
        #expect(cloud.envelopes.isEmpty)

        try await rig.tpm.restart()
        let sent = try await Poll.until(timeout: .seconds(30)) { !cloud.envelopes.isEmpty }
        #expect(sent, "the agent signs and sends once the TPM is back: \(agent.diagnostics())")
    }

    /// A monitor that records the agent's retained status messages.
    private final class Statuses: Sendable {
        let list = Mutex<[ComponentStatus]>([])
        func withLock<T>(_ body: ([ComponentStatus]) -> T) -> T { list.withLock { body($0) } }
    }

    private func statusMonitor(_ rig: Rig) async throws -> (MQTTClient, Statuses, Task<Void, Never>) {
        try rig.broker.addClients(["monitor-1"])
        let monitor = try MQTTClient(
            configuration: MQTTConfiguration(
                host: "127.0.0.1", port: Int(rig.broker.port), clientID: "monitor-1", caFile: rig.broker.caFile,
                certificateFile: rig.broker.certificate(for: "monitor-1"), keyFile: rig.broker.key(for: "monitor-1")),
            logger: testLogger)
        monitor.start()
        try await monitor.waitUntilConnected(timeout: .seconds(10))
        try await monitor.subscribe(TopicTree().status(component: "agent", id: "agent-001"))
        let statuses = Statuses()
        let messages = monitor.messages
        let reader = Task {
            for await message in messages {
                if let status = try? JSONDecoder().decode(ComponentStatus.self, from: message.payload) {
                    statuses.list.withLock { $0.append(status) }
                }
            }
        }
        return (monitor, statuses, reader)
    }

    @Test func agentResumesSigningAfterTheTPMWasAway() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        let (monitor, statuses, reader) = try await statusMonitor(rig)
        let agent = try Agent(
            configuration: rig.configuration(sampleInterval: 0.2, receiptTimeout: 5), signer: rig.signer,
            logger: testLogger)
        let run = try agent.runAsService(testLogger)
        defer { run.cancel() }
        #expect(
            try await Poll.until(timeout: .seconds(30)) { cloud.envelopes.count >= 2 },
            "nothing sent before the outage")

        rig.tpm.kill()
        let awaySince = Timestamp.string(from: Date())
        #expect(
            try await Poll.until(timeout: .seconds(15)) { agent.problems["tpm"] != nil }, "the outage went unreported")
        let problem = agent.problems["tpm"] ?? ""
        #expect(problem.contains("the TPM is unavailable"), "\(problem)")
        #expect(problem.contains("batches are spooled"), "\(problem)")
        // Sampling and spooling go on meanwhile.
        #expect(try await Poll.until(timeout: .seconds(15)) { await agent.spooledCount() >= 3 })
        // The retained status says so too.
        #expect(
            try await Poll.until(timeout: .seconds(10)) {
                statuses.withLock { list in
                    guard let last = list.last else { return false }
                    return last.state == .degraded && last.problem?.contains("unavailable") == true
                }
            }, "\(statuses.withLock { $0 })")
        try await Task.sleep(for: .seconds(3))

        try await rig.tpm.restart()
        let backSince = Timestamp.string(from: Date())
        #expect(
            try await Poll.until(timeout: .seconds(40)) { sampleTimes(cloud).contains { $0 > backSince } },
            "no envelope signed after the TPM came back; problems: \(agent.problems)")
        #expect(try await Poll.until(timeout: .seconds(10)) { agent.problems["tpm"] == nil }, "\(agent.problems)")
        #expect(
            try await Poll.until(timeout: .seconds(10)) { statuses.withLock { $0.last?.state == .online } },
            "\(statuses.withLock { $0 })")
        // What was sampled while the TPM was away arrives too.
        #expect(
            try await Poll.until(timeout: .seconds(30)) {
                sampleTimes(cloud).contains { $0 > awaySince && $0 < backSince }
            })
        run.cancel()
        _ = await run.result
        await cloud.shutdown()
        await monitor.shutdown()
        reader.cancel()

        #expect((agent.counters["tpm_failures"] ?? 0) >= 1)
        #expect(cloud.problems.withLock { $0 }.isEmpty, "\(cloud.problems.withLock { $0 })")
        let times = sampleTimes(cloud)
        #expect(Set(times).count == times.count, "a sample arrived twice")
        for received in cloud.envelopes {
            #expect(throws: Never.self) { try received.envelope.verifySignature(with: rig.publicKey) }
        }
    }

    @Test func lockedOutTPMIsReportedWithItsRecoveryTimeWhileBatchesStaySpooled() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        // A key as EdgeProof made them before noDA, then power losses until the TPM locks it out.
        let legacy = try PersistentHandle(parsing: "0x81010011")
        try rig.tpm.createKeyWithoutNoDA(at: legacy.description)
        let digest = SHA256.hash(data: Data("lockout".utf8))
        var lockedOut = false
        for _ in 0..<6 where !lockedOut {
            let signer = try await TPMSigner(device: try TPMDevice(tcti: rig.tpm.tcti), handle: legacy)
            do {
                _ = try await signer.signature(forDigest: digest)
                rig.tpm.kill()
                try await rig.tpm.restart()
            } catch let error as TPMError {
                lockedOut = error.isLockout
                if !lockedOut { throw error }
            }
        }
        #expect(lockedOut)
        let signer = try await TPMSigner(device: try TPMDevice(tcti: rig.tpm.tcti), handle: legacy)
        #expect(!signer.lockoutExempt)
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: signer.publicKey)
        let agent = try Agent(configuration: rig.configuration(), signer: signer, logger: testLogger)

        let error = try await #require(throws: AgentError.self) { try await agent.runOnce() }
        #expect(error.description.contains("dictionary-attack lockout (TPM_RC_LOCKOUT 0x921)"), "\(error)")
        #expect(error.description.contains("after about 1000 s"), "\(error)")
        #expect(error.description.contains("the batch stays in the spool"))
        #expect(agent.problems["tpm"]?.contains("the TPM is in dictionary-attack lockout") == true, "\(agent.problems)")
        #expect(await agent.spooledCount() == 1)

        // Signing is paused rather than retried at every batch: no nonce is asked for, the batch is kept.
        let requests = cloud.nonceRequests.load(ordering: .relaxed)
        await #expect(throws: AgentError.self) { try await agent.runOnce() }
        #expect(cloud.nonceRequests.load(ordering: .relaxed) == requests)
        #expect(await agent.spooledCount() == 2)
        await cloud.shutdown()
        #expect(cloud.envelopes.isEmpty)
    }

    // MARK: - Batches and envelopes

    @Test func largeBatchesAreCutToFitTheEnvelopeLimit() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        // About 60 KB of application metrics per tick and 700 ticks per envelope: uncut, one batch would be
        // tens of megabytes.
        let file = rig.work.appending("application-metrics.json")
        let members = (0..<2000).map { #""metric_\#($0)":"\#(String(repeating: "v", count: 16))""# }
        try Data(("{" + members.joined(separator: ",") + "}").utf8).write(to: file)
        var configuration = rig.configuration(sampleInterval: 0.05, receiptTimeout: 5)
        configuration.samplesPerEnvelope = 700
        configuration.applicationMetricsFile = file.path
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)
        let run = try agent.runAsService(testLogger)
        let sent = try await Poll.until(timeout: .seconds(60)) { cloud.envelopes.count >= 3 }
        run.cancel()
        _ = await run.result
        await cloud.shutdown()

        #expect(sent, "counters \(agent.counters), problems \(agent.problems)")
        // The collector read every one: none over its 256 KiB limit.
        #expect(cloud.problems.withLock { $0 }.isEmpty, "\(cloud.problems.withLock { $0 })")
        for received in cloud.envelopes {
            #expect(received.message.payload.count <= SignedEnvelope.defaultMaximumSize)
            // Full enough to show the cut was by size, not by count.
            #expect(received.message.payload.count > SignedEnvelope.defaultMaximumSize * 2 / 3)
        }
        #expect(agent.counters["batches_unsendable"] == nil)
        #expect(agent.counters["samples_refused"] == nil)
        #expect(agent.problems.isEmpty, "\(agent.problems)")
    }

    @Test func oversizedSpooledBatchIsSplitAndNeverHoldsUpTheQueue() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        let configuration = rig.configuration(sampleInterval: 3600, receiptTimeout: 5)
        // As an older agent left them: 700 samples in one batch (about 400 KB of claims), then a small one.
        var metrics = SystemMetrics()
        let start = Date().addingTimeInterval(-60)
        let samples = (0..<700).map { index in
            MetricSample(
                timestamp: Timestamp.string(from: start.addingTimeInterval(Double(index) * 0.01)), metricType: "system",
                values: metrics.sample())
        }
        let late = MetricSample(
            timestamp: Timestamp.string(from: Date()), metricType: "system", values: metrics.sample())
        do {
            let spool = try EnvelopeSpool(directory: URL(fileURLWithPath: configuration.spool.directory))
            for batch in [samples, [late]] {
                try await spool.enqueue(EnvelopeSpool.UnsignedBatch(
                    geographicRegion: configuration.location, geolocation: configuration.geolocation,
                    metrics: MetricsBatch(service: configuration.service, samples: batch)))
            }
        }
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)
        #expect(await agent.spooledCount() == 2)
        let run = try agent.runAsService(testLogger)
        let expected = Set(samples.map(\.timestamp) + [late.timestamp])
        // Every sample arrived and every receipt was taken (the spool is empty).
        let complete = try await Poll.until(timeout: .seconds(60)) {
            guard expected.isSubset(of: Set(sampleTimes(cloud))) else { return false }
            return await agent.spooledCount() == 0
        }
        run.cancel()
        _ = await run.result
        await cloud.shutdown()

        #expect(complete, "counters \(agent.counters), problems \(cloud.problems.withLock { $0 })")
        #expect(cloud.problems.withLock { $0 }.isEmpty, "\(cloud.problems.withLock { $0 })")
        #expect(agent.counters["batches_split"] == 1)
        #expect(agent.counters["batches_unsendable"] == nil)
        // The small batch behind the big one went first, without waiting for it.
        #expect(cloud.envelopes.first?.envelope.claims.metrics.samples.map(\.timestamp) == [late.timestamp])
        for received in cloud.envelopes {
            #expect(received.message.payload.count <= SignedEnvelope.defaultMaximumSize)
        }
        let times = sampleTimes(cloud)
        #expect(times.count == Set(times).count, "a sample arrived twice")
        #expect(await agent.spooledCount() == 0)
    }

    @Test func sampleThatCannotFitIsRefusedWithTheReasonAndTheRestIsSent() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        let file = rig.work.appending("application-metrics.json")
        var configuration = rig.configuration()
        configuration.applicationMetricsFile = file.path
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)
        func document(bytes: Int) -> Data {
            Data((#"{"blob":""# + String(repeating: "x", count: bytes - 11) + #""}"#).utf8)
        }
        func sendsSystemOnly(_ step: String) async throws {
            let outcome = try await agent.runOnce()
            guard case .accepted = outcome else {
                Issue.record("\(step): expected accepted, got \(outcome)")
                return
            }
            #expect(cloud.envelopes.last?.envelope.claims.metrics.samples.map(\.metricType) == ["system"], "\(step)")
        }

        // Larger than any envelope: not even read.
        try document(bytes: 300_000).write(to: file)
        try await sendsSystemOnly("300 KB file")
        #expect(agent.problems["application_metrics_file"]?.contains("more than fits in an envelope") == true)

        // Under the envelope size as a file, but the sample with its frame is not.
        try document(bytes: SignedEnvelope.defaultMaximumSize - 100).write(to: file)
        try await sendsSystemOnly("file just under the limit")
        #expect(
            agent.problems["samples"]?.contains("cannot fit in an envelope of at most") == true, "\(agent.problems)")
        #expect(agent.counters["samples_refused"] == 1)
        #expect(agent.problems["application_metrics_file"] == nil)

        // Fixed: the application sample is back, and so is the healthy status.
        try document(bytes: 1000).write(to: file)
        let outcome = try await agent.runOnce()
        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome)")
            return
        }
        #expect(cloud.envelopes.last?.envelope.claims.metrics.samples.map(\.metricType) == ["system", "application"])
        #expect(agent.problems.isEmpty, "\(agent.problems)")
        await cloud.shutdown()
        #expect(cloud.problems.withLock { $0 }.isEmpty)
    }

    @Test func badApplicationMetricsFilesAreReportedAndRecoveredFrom() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        let file = rig.work.appending("application-metrics.json")
        var configuration = rig.configuration()
        configuration.applicationMetricsFile = file.path
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)
        let cases: [(content: String?, reason: String)] = [
            (nil, "cannot read the file"),
            (#"{"requests": 5"#, "not valid JSON"),
            (#"{"requests": 5} trailing"#, "not valid JSON"),
            ("[1, 2, 3]", "the JSON is not an object"),
            ("\"text\"", "the JSON is not an object"),
            ("", "not valid JSON"),
        ]
        for (content, reason) in cases {
            if let content {
                try Data(content.utf8).write(to: file)
            } else {
                try? FileManager.default.removeItem(at: file)
            }
            let outcome = try await agent.runOnce()
            guard case .accepted = outcome else {
                Issue.record("\(reason): expected accepted, got \(outcome)")
                continue
            }
            #expect(cloud.envelopes.last?.envelope.claims.metrics.samples.map(\.metricType) == ["system"])
            let problem = agent.problems["application_metrics_file"] ?? ""
            #expect(problem.contains(reason), "\(String(describing: content)): \(problem)")
            #expect(problem.contains("left out until it is fixed"))
        }
        try Data(#"{"requests": 5}"#.utf8).write(to: file)
        let outcome = try await agent.runOnce()
        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome)")
            return
        }
        let last = cloud.envelopes.last?.envelope.claims.metrics.samples
        #expect(last?.map(\.metricType) == ["system", "application"])
        #expect(last?.last?.values["requests"] == .number(5))
        #expect(agent.problems.isEmpty, "\(agent.problems)")
        await cloud.shutdown()
        #expect(cloud.problems.withLock { $0 }.isEmpty)
    }
}
