import EdgeProofAgent
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Plays gateway and collector against a real agent: a real mosquitto with the project's ACL and a
/// real swtpm. The `gateway-1` identity reads agent ingress; `collector-1` answers on the agent topics.
final class FakeCloud: Sendable {
    enum Answer: Sendable {
        case receipt
        case reject(ValidationFailure)
        case silence
        /// No answer yet: the receipt goes out with the next `.receiptReleasingHeld`.
        case hold
        /// A receipt for this envelope and for every one held before it.
        case receiptReleasingHeld
    }

    struct Received: Sendable {
        let envelope: SignedEnvelope
        let message: MQTTMessage
    }

    let topics = TopicTree()
    let authority: NonceAuthority
    let publicKey: AgentPublicKey
    let gateway: MQTTClient
    let collector: MQTTClient
    /// Decides per envelope (index from 0) how the collector answers.
    let policy: Mutex<@Sendable (Int, SignedEnvelope) -> Answer>
    let received = Mutex<[Received]>([])
    let problems = Mutex<[String]>([])
    let nonceRequests = Atomic<Int>(0)
    let held = Mutex<[SignedEnvelope]>([])
    private let handler = Mutex<Task<Void, Never>?>(nil)

    init(broker: MosquittoBroker, publicKey: AgentPublicKey, nonceLifetime: Duration = .seconds(300)) async throws {
        self.publicKey = publicKey
        authority = NonceAuthority(keyring: try NonceKeyring(current: .random(id: 1)), lifetime: nonceLifetime)
        policy = Mutex({ _, _ in .receipt })
        func client(_ name: String) throws -> MQTTClient {
            try MQTTClient(
                configuration: MQTTConfiguration(
                    host: "127.0.0.1", port: Int(broker.port), clientID: name, caFile: broker.caFile,
                    certificateFile: broker.certificate(for: name), keyFile: broker.key(for: name),
                    reconnectDelay: 0.05...0.5),
                logger: testLogger)
        }
        gateway = try client("gateway-1")
        collector = try client("collector-1")
        gateway.start()
        collector.start()
        try await gateway.waitUntilConnected(timeout: .seconds(10))
        try await collector.waitUntilConnected(timeout: .seconds(10))
        try await gateway.subscribe(topics.allAgentNonceRequests)
        try await gateway.subscribe(topics.allAgentMetrics)
        let messages = gateway.messages
        handler.withLock {
            $0 = Task { [weak self] in
                for await message in messages { await self?.handle(message) }
            }
        }
    }

    /// Stops listening first and answers what already arrived, then closes the answering client: a request
    /// still queued at shutdown is not answered on a closed client (which would count as a problem).
    func shutdown() async {
        await gateway.shutdown()
        await handler.withLock { $0 }?.value
        await collector.shutdown()
    }

    var envelopes: [Received] { received.withLock { $0 } }

    private func handle(_ message: MQTTMessage) async {
        guard let (kind, agent) = topics.parse(message.topic) else { return }
        do {
            switch kind {
            case .agentNonceRequest:
                nonceRequests.add(1, ordering: .relaxed)
                let issued = authority.issue(for: publicKey.hash)
                try await collector.publish(MQTTMessage(
                    topic: topics.agentNonceResponse(agent),
                    payload: try JSONEncoder().encode(NonceResponse(issued)),
                    properties: MQTTProperties(correlationData: message.properties.correlationData)))
            case .agentMetrics:
                let envelope = try SignedEnvelope(parsing: message.payload)
                try envelope.verifySignature(with: publicKey)
                let index = received.withLock { list in
                    list.append(Received(envelope: envelope, message: message))
                    return list.count - 1
                }
                let answer = policy.withLock { $0 }(index, envelope)
                switch answer {
                case .receipt:
                    try await receipt(for: envelope, agent: agent)
                case .hold:
                    held.withLock { $0.append(envelope) }
                case .receiptReleasingHeld:
                    for earlier in held.withLock({ $0 }) + [envelope] { try await receipt(for: earlier, agent: agent) }
                    held.withLock { $0.removeAll() }
                case .reject(let failure):
                    try await collector.publish(MQTTMessage(
                        topic: topics.agentRejections(agent),
                        payload: try JSONEncoder().encode(Rejection(failure, rejectedBy: .collector, at: Date()))))
                case .silence:
                    break
                }
            default:
                break
            }
        } catch {
            problems.withLock { $0.append("\(message.topic): \(error)") }
        }
    }

    private func receipt(for envelope: SignedEnvelope, agent: String) async throws {
        _ = try authority.validate(envelope.claims.nonce, for: envelope.claims.publicKeyHash)
        try await collector.publish(MQTTMessage(
            topic: topics.agentReceipts(agent),
            payload: try JSONEncoder().encode(Receipt(
                nonce: envelope.claims.nonce, collector: "collector-1", storedAt: Timestamp.string(from: Date())))))
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "edgeproof.agent.test")
    logger.logLevel = .error
    return logger
}()

/// swtpm with a provisioned ECC key, a broker with agent, gateway and collector certificates.
struct Rig: Sendable {
    let tpm: SoftwareTPM
    let broker: MosquittoBroker
    let signer: TPMSigner
    let publicKey: AgentPublicKey
    let work: TemporaryDirectory

    static func start() async throws -> Rig {
        let tpm = try await SoftwareTPM.start()
        let device = try TPMDevice(tcti: tpm.tcti)
        let key = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
        let signer = try await TPMSigner(device: device, handle: .defaultSigningKey)
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "gateway-1", "collector-1"])
        return Rig(tpm: tpm, broker: broker, signer: signer, publicKey: key.publicKey,
            work: try TemporaryDirectory(prefix: "agent-work"))
    }

    func close() {
        broker.close()
        tpm.stop()
        work.remove()
    }

    func configuration(sampleInterval: Double = 10, receiptTimeout: Double = 10) -> AgentConfiguration {
        AgentConfiguration(
            name: "agent-001",
            broker: BrokerSettings(
                host: "127.0.0.1", port: Int(broker.port), caFile: broker.caFile,
                certificateFile: broker.certificate(for: "agent-001"), keyFile: broker.key(for: "agent-001")),
            tpm: .init(tcti: tpm.tcti),
            location: GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise"),
            sampleInterval: sampleInterval,
            spool: .init(directory: work.appending("spool").path),
            nonceTimeout: 15,
            receiptTimeout: receiptTimeout)
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct AgentIntegrationTests {
    @Test func acceptedEnvelopeLeavesTheSpool() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        let agent = try Agent(configuration: rig.configuration(), signer: rig.signer, logger: testLogger)

        let outcome = try await agent.runOnce()
        await cloud.shutdown()

        guard case .accepted(let receipt) = outcome else {
            Issue.record("expected accepted, got \(outcome); problems: \(cloud.problems.withLock { $0 })")
            return
        }
        #expect(receipt.collector == "collector-1")
        #expect(await agent.spooledCount() == 0)
        let received = try #require(cloud.envelopes.first)
        #expect(cloud.envelopes.count == 1)
        let claims = received.envelope.claims
        #expect(claims.agentName == "agent-001")
        #expect(claims.nonce == receipt.nonce)
        #expect(claims.publicKeyHash == rig.publicKey.hash)
        #expect(claims.geographicRegion == GeographicRegion(region: "US", state: "California", city: "Santa Clara"))
        #expect(claims.geolocation?.quality == "GNSS")
        #expect(claims.metrics.service.instanceID == "agent-001")
        #expect(claims.metrics.samples.first?.metricType == "system")
        #expect(claims.metrics.samples.first?.values["memory_total_bytes"] != nil)
        // The user properties are copies of the signed content.
        let properties = received.message.properties
        let signatureInput = try #require(properties.userProperty(EnvelopeProperty.signatureInput).flatMap(SignatureInput.init(parsing:)))
        #expect(signatureInput.nonce == claims.nonce)
        #expect(signatureInput.keyID == rig.publicKey.hash)
        #expect(signatureInput.algorithm == .es256)
        #expect(properties.userProperty(EnvelopeProperty.workloadGeoID) == WorkloadGeoID(claims: claims).headerValue)
        #expect(cloud.problems.withLock { $0 }.isEmpty)
    }

    @Test func overNestedApplicationMetricsAreLeftOutInsteadOfSignedOrCrashedOn() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        let file = rig.work.appending("application-metrics.json")
        var configuration = rig.configuration()
        configuration.applicationMetricsFile = file.path
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)
        func nested(_ depth: Int) -> String {
            String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        }
        // 513 '[' trapped Foundation's decoder; 61 levels would put the claims over the receivers' 64.
        for (document, included) in [
            (String(repeating: "[", count: 513), false), (nested(61), false), (nested(60), true),
        ] {
            try Data(document.utf8).write(to: file)
            let outcome = try await agent.runOnce()
            guard case .accepted = outcome else {
                Issue.record("expected accepted, got \(outcome); problems: \(cloud.problems.withLock { $0 })")
                continue
            }
            let types = cloud.envelopes.last?.envelope.claims.metrics.samples.map(\.metricType) ?? []
            #expect(types == (included ? ["system", "application"] : ["system"]), "depth \(document.prefix(10))")
        }
        await cloud.shutdown()
        #expect(cloud.problems.withLock { $0 }.isEmpty)
    }

    @Test func definitiveRejectionLeavesTheSpool() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        cloud.policy.withLock {
            $0 = { _, envelope in
                .reject(ValidationFailure(
                    .locationNotAllowed, "US/California/Santa Clara is not allowed for agent-001",
                    details: ["nonce": .string(envelope.claims.nonce)]))
            }
        }
        let agent = try Agent(configuration: rig.configuration(), signer: rig.signer, logger: testLogger)
        let outcome = try await agent.runOnce()
        await cloud.shutdown()
        guard case .rejected(let rejection) = outcome else {
            Issue.record("expected rejected, got \(outcome)")
            return
        }
        #expect(rejection.reasonCode == "location_not_allowed")
        #expect(rejection.validationType == .geolocationPolicy)
        #expect(await agent.spooledCount() == 0)
        #expect(agent.counters["rejected.location_not_allowed"] == 1)
    }

    @Test func expiredNonceRejectionMakesTheAgentResignWithAFreshNonce() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        cloud.policy.withLock {
            // The first envelope is refused without naming its nonce (the in-flight one is meant).
            $0 = { index, _ in index == 0 ? .reject(ValidationFailure(.nonceExpired, "nonce expired 3 s ago")) : .receipt }
        }
        let agent = try Agent(configuration: rig.configuration(), signer: rig.signer, logger: testLogger)
        let outcome = try await agent.runOnce()
        await cloud.shutdown()
        guard case .accepted = outcome else {
            Issue.record("expected accepted after re-signing, got \(outcome)")
            return
        }
        let envelopes = cloud.envelopes
        #expect(envelopes.count == 2)
        #expect(cloud.nonceRequests.load(ordering: .relaxed) == 2)
        #expect(envelopes[0].envelope.claims.nonce != envelopes[1].envelope.claims.nonce)
        #expect(envelopes[0].envelope.claims.metrics == envelopes[1].envelope.claims.metrics)
        for received in envelopes { #expect(throws: Never.self) { try received.envelope.verifySignature(with: rig.publicKey) } }
        #expect(await agent.spooledCount() == 0)
        #expect(agent.counters["resigned"] == 1)
    }

    @Test func refusedNonceRequestIsAnsweredByTheRejection() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        // The gateway refuses nonce requests of an unknown agent with the request's correlation data.
        let topics = TopicTree()
        let gateway = try MQTTClient(
            configuration: MQTTConfiguration(
                host: "127.0.0.1", port: Int(rig.broker.port), clientID: "gateway-1", caFile: rig.broker.caFile,
                certificateFile: rig.broker.certificate(for: "gateway-1"), keyFile: rig.broker.key(for: "gateway-1")),
            logger: testLogger)
        gateway.start()
        try await gateway.waitUntilConnected(timeout: .seconds(10))
        try await gateway.subscribe(topics.allAgentNonceRequests)
        let messages = gateway.messages
        let responder = Task {
            for await message in messages {
                guard let (_, agent) = topics.parse(message.topic) else { continue }
                let rejection = Rejection(
                    ValidationFailure(.agentNotFound, "agent \(agent) is not on the allowlist"), rejectedBy: .gateway,
                    at: Date())
                try? await gateway.publish(MQTTMessage(
                    topic: topics.agentRejections(agent), payload: try JSONEncoder().encode(rejection),
                    properties: MQTTProperties(correlationData: message.properties.correlationData)))
            }
        }
        let agent = try Agent(configuration: rig.configuration(), signer: rig.signer, logger: testLogger)
        let started = ContinuousClock.now
        let outcome = try await agent.runOnce()
        responder.cancel()
        await gateway.shutdown()
        guard case .rejected(let rejection) = outcome else {
            Issue.record("expected rejected, got \(outcome)")
            return
        }
        #expect(rejection.reasonCode == "agent_not_found")
        #expect(ContinuousClock.now - started < .seconds(5), "answered by the rejection, not by the timeout")
        // Not an envelope rejection: the batch waits in the spool for the agent to be allowlisted.
        #expect(await agent.spooledCount() == 1)
    }

    @Test func batchesSpooledOfflineArriveExactlyOnceAfterRestart() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        rig.broker.stop()

        // First agent: samples while the broker is down, then stops.
        let configuration = rig.configuration(sampleInterval: 0.2, receiptTimeout: 5)
        let first = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)
        let firstRun = try first.runAsService(testLogger)
        // At least three batches taken offline (a loaded machine may sample late).
        try await Poll.until(timeout: .seconds(30), every: .milliseconds(100)) { await first.spooledCount() >= 3 }
        firstRun.cancel()
        _ = await firstRun.result
        let spooledOffline = await first.spooledCount()
        #expect(spooledOffline >= 3)

        // Second agent on the same spool, still offline; then the broker returns.
        let second = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)
        #expect(await second.spooledCount() == spooledOffline)
        let secondRun = try second.runAsService(testLogger)
        try await Task.sleep(for: .seconds(0.5))
        try await rig.broker.restart()

        try await Poll.until(timeout: .seconds(30), every: .milliseconds(100)) {
            cloud.envelopes.count >= spooledOffline + 2
        }
        secondRun.cancel()
        _ = await secondRun.result
        await cloud.shutdown()

        let received = cloud.envelopes
        #expect(cloud.problems.withLock { $0 }.isEmpty, "\(cloud.problems.withLock { $0 })")
        #expect(received.count >= spooledOffline + 2)
        // Each batch is identified by its samples' capture times: none arrived twice.
        let batches = received.map { $0.envelope.claims.metrics.samples.map(\.timestamp) }
        #expect(Set(batches).count == batches.count, "duplicate batches: \(batches)")
        // Sample times are strictly increasing across the batches in arrival order (spool order).
        let firstTimes = batches.compactMap(\.first)
        #expect(firstTimes == firstTimes.sorted())
        for envelope in received { #expect(throws: Never.self) { try envelope.envelope.verifySignature(with: rig.publicKey) } }
    }
}

extension Agent {
    /// Runs the agent as `edgeproof agent` does: its client first, then the agent, in one ServiceGroup.
    /// Cancelling the task stops both.
    func runAsService(_ logger: Logger) throws -> Task<Void, any Error> {
        let group = ServiceGroup(services: try composed().services, logger: logger)
        return Task { try await group.run() }
    }
}
