import EdgeProofBench
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
import Synchronization
import Testing

/// What arrived on one agent's receipts, rejections and nonce/response topics.
final class AgentInbox: Sendable {
    struct Counts {
        var envelopeRejections: [String: Int] = [:]  // "validation_type/reason" → count
        var requestRejections: [Data: String] = [:]  // correlation data → reason
        var nonceResponses: [Data: Int] = [:]  // correlation data → count
        var receipts: [String: Int] = [:]  // nonce → count
        var unexpected: [String] = []
        var largestRejection = 0
    }

    let counts = Mutex(Counts())

    init(_ client: MQTTClient) {
        let messages = client.messages
        Task { [weak self] in
            for await message in messages {
                self?.file(message)
            }
        }
    }

    private func file(_ message: MQTTMessage) {
        let decoder = JSONDecoder()
        counts.withLock { counts in
            if message.topic.hasSuffix("/receipts"), let receipt = try? decoder.decode(Receipt.self, from: message.payload) {
                counts.receipts[receipt.nonce, default: 0] += 1
            } else if message.topic.hasSuffix("/rejections"),
                let rejection = try? decoder.decode(Rejection.self, from: message.payload)
            {
                let reason = rejection.reasonCode ?? "?"
                counts.largestRejection = max(counts.largestRejection, message.payload.count)
                if let correlation = message.properties.correlationData {
                    counts.requestRejections[correlation] = reason
                } else {
                    counts.envelopeRejections["\(rejection.validationType.rawValue)/\(reason)", default: 0] += 1
                }
            } else if message.topic.hasSuffix("/nonce/response"), let correlation = message.properties.correlationData,
                (try? decoder.decode(NonceResponse.self, from: message.payload)) != nil
            {
                counts.nonceResponses[correlation, default: 0] += 1
            } else {
                counts.unexpected.append("\(message.topic): \(message.payload.prefix(200))")
            }
        }
    }

    /// Waits until `condition` holds or `timeout` passes; returns whether it held.
    func wait(_ timeout: Duration, until condition: (Counts) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if counts.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return counts.withLock { condition($0) }
    }
}

func residentMemoryBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return kilobytes * 1024
}

@Suite("Malformed input through the whole system: refused with request_validation, nothing crashes or leaks", .serialized, .timeLimit(.minutes(10)))
struct MalformedInputSystemTests {
    static let attacker = "agent-attacker"
    static let honest = "agent-honest"

    @Test(
        "thousands of bad envelopes and garbage nonce requests are refused, honest envelopes interleaved are stored once",
        arguments: ["enforce", "passthrough"])
    func badPayloadsAreRefused(mode: String) async throws {
        let system = try await SystemFixture(agents: [], collectors: ["collector-1"])
        defer { system.close() }
        try system.broker.addClients([Self.attacker, Self.honest])
        let attackerKey = try SoftwareBenchmarkSigner(.es256)
        let honestKey = try SoftwareBenchmarkSigner(.es256)
        var allowlist = Allowlist()
        for (name, key) in [(Self.attacker, attackerKey), (Self.honest, honestKey)] {
            try allowlist.add(
                AllowlistEntry(
                    name: name, key: try key.publicKey, createdAt: Timestamp.string(from: Date()),
                    allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        }
        try AllowlistFile(path: system.allowlistPath).save(allowlist)

        // A deterministic share of the corpus per mode: every small family whole, the big ones sampled.
        let corpus = BadPayloads(agentName: Self.attacker, keyHash: attackerKey.publicKeyHash.hex)
        let eligible = corpus.requestValidationPayloads
        var bad: [BadPayload] = []
        var perCategory: [String: Int] = [:]
        let offset = mode == "enforce" ? 0 : 1
        for (index, payload) in eligible.enumerated() {
            let family = payload.category.split(separator: ".").first.map(String.init) ?? payload.category
            let sampled = ["random_bytes", "json_soup", "truncated_envelope", "truncated_protected", "truncated_payload"]
                .contains(family)
            if sampled ? index % 16 == offset : true { bad.append(payload) }
            perCategory[family, default: 0] += 1
        }
        let (monitor, statuses) = try await system.monitor()
        let services = ServiceGroup(
            services: try system.collector("collector-1").services + system.gateway(mode: mode).services,
            logger: system.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/gateway")
            let topics = TopicTree()

            func connect(_ name: String) async throws -> (MQTTClient, AgentInbox) {
                let client = try MQTTClient(
                    configuration: MQTTConfiguration(
                        port: Int(system.broker.port), clientID: name, caFile: system.broker.caFile,
                        certificateFile: system.broker.certificate(for: name), keyFile: system.broker.key(for: name),
                        cleanStart: true),
                    logger: system.logger)
                let inbox = AgentInbox(client)
                client.start()
                try await client.waitUntilConnected(timeout: .seconds(10))
                try await client.subscribe(topics.agentReceipts(name))
                try await client.subscribe(topics.agentRejections(name))
                return (client, inbox)
            }
            let (attacker, attackerInbox) = try await connect(Self.attacker)
            try await attacker.subscribe(topics.agentNonceResponse(Self.attacker))
            let (honest, honestInbox) = try await connect(Self.honest)

            /// A valid envelope: a real nonce from the collector, signed with the allowlisted key.
            @Sendable func validEnvelope(
                _ name: String, _ client: MQTTClient, _ key: SoftwareBenchmarkSigner
            ) async throws -> (nonce: String, payload: Data) {
                try await BenchmarkClaims.signedEnvelope(agent: name, client: client, signer: key, topics: topics)
            }
            @Sendable func honestEnvelope() async throws -> (nonce: String, payload: Data) {
                try await validEnvelope(Self.honest, honest, honestKey)
            }

            // Garbage nonce requests: random bytes and huge ones, each with its own correlation data.
            var random = SplitMix64(seed: 0x5EED_0000 + UInt64(offset))
            // Some name the honest agent's response topic (reflection attempt), some none at all.
            var nonceRequests: [(correlation: Data, payload: Data, responseTopic: String?)] = []
            for index in 0..<300 {
                let size = index % 10 == 9 ? Int.random(in: 5_000...300_000, using: &random) : Int.random(in: 0...4096, using: &random)
                let responseTopic: String? =
                    index % 7 == 3 ? topics.agentNonceResponse(Self.honest)
                    : index % 13 == 5 ? nil : topics.agentNonceResponse(Self.attacker)
                nonceRequests.append((Data("req-\(index)".utf8), Data(random.bytes(size)), responseTopic))
            }

            let rssBefore = residentMemoryBytes()
            let clock = ContinuousClock()
            let start = clock.now
            var honestNonces: [String] = []
            let window = 32
            try await withThrowingTaskGroup(of: Void.self) { senders in
                var inFlight = 0
                for (index, payload) in bad.enumerated() {
                    if inFlight >= window {
                        try await senders.next()
                        inFlight -= 1
                    }
                    senders.addTask {
                        try await attacker.publish(MQTTMessage(topic: topics.agentMetrics(Self.attacker), payload: payload.bytes))
                    }
                    inFlight += 1
                    if index < nonceRequests.count {
                        let request = nonceRequests[index]
                        senders.addTask {
                            try await attacker.publish(
                                MQTTMessage(
                                    topic: topics.agentNonceRequest(Self.attacker), payload: request.payload,
                                    properties: MQTTProperties(
                                        responseTopic: request.responseTopic, correlationData: request.correlation)))
                        }
                        inFlight += 1
                    }
                    if index % 50 == 0 {
                        let envelope = try await honestEnvelope()
                        honestNonces.append(envelope.nonce)
                        try await honest.publish(MQTTMessage(topic: topics.agentMetrics(Self.honest), payload: envelope.payload))
                    }
                }
                try await senders.waitForAll()
            }
            let sentAt = clock.now - start

            let badCount = bad.count
            let allRefused = await attackerInbox.wait(.seconds(30)) { counts in
                counts.envelopeRejections.values.reduce(0, +) >= badCount
                    && counts.requestRejections.count + counts.nonceResponses.count >= nonceRequests.count
            }
            let allReceipted = await honestInbox.wait(.seconds(15)) { counts in
                honestNonces.allSatisfy { counts.receipts[$0] != nil }
            }
            // Anything extra would arrive within a moment.
            try await Task.sleep(for: .milliseconds(500))
            let elapsed = clock.now - start
            let rssAfter = residentMemoryBytes()

            // Still alive: one more honest envelope after the flood gets its receipt.
            let last = try await honestEnvelope()
            honestNonces.append(last.nonce)
            try await honest.publish(MQTTMessage(topic: topics.agentMetrics(Self.honest), payload: last.payload))
            let lastReceipted = await honestInbox.wait(.seconds(10)) { $0.receipts[last.nonce] != nil }
            #expect(statuses.latest("gateway/gateway")?.state == .online)
            #expect(statuses.latest("collector/collector-1")?.state == .online)

            let attackerCounts = attackerInbox.counts.withLock { $0 }
            let honestCounts = honestInbox.counts.withLock { $0 }
            #expect(allRefused, "rejections \(attackerCounts.envelopeRejections) of \(badCount)")
            #expect(allReceipted && lastReceipted, "receipts \(honestCounts.receipts.count) of \(honestNonces.count)")
            let rejected = attackerCounts.envelopeRejections.values.reduce(0, +)
            #expect(rejected == badCount)
            #expect(attackerCounts.envelopeRejections.keys.allSatisfy { $0.hasPrefix("request_validation/") })
            let expectedByReason = Dictionary(grouping: bad, by: { "request_validation/\($0.expected.code)" }).mapValues(\.count)
            #expect(attackerCounts.envelopeRejections == expectedByReason)
            #expect(attackerCounts.unexpected.isEmpty, "\(attackerCounts.unexpected.prefix(5))")
            #expect(honestCounts.envelopeRejections.isEmpty, "\(honestCounts.envelopeRejections)")
            // Nothing was reflected to the honest agent's response topic.
            #expect(honest.unmatchedResponses == 0)
            #expect(honestCounts.unexpected.isEmpty, "\(honestCounts.unexpected.prefix(3))")
            // Answers stay short whatever the input: nothing of a 100 KB field is echoed back.
            #expect(attackerCounts.largestRejection < 2048, "largest rejection \(attackerCounts.largestRejection) bytes")

            // Garbage nonce requests: each answered exactly once, a nonce or (too large) a rejection.
            for request in nonceRequests {
                let answers = (attackerCounts.nonceResponses[request.correlation] ?? 0)
                    + (attackerCounts.requestRejections[request.correlation] == nil ? 0 : 1)
                #expect(answers == 1, "nonce request \(String(decoding: request.correlation, as: UTF8.self)) answered \(answers) times")
                if request.payload.count > NonceRequest.maximumSize {
                    #expect(attackerCounts.requestRejections[request.correlation] == "payload_too_large")
                }
            }

            // Validly signed attacker envelopes with hostile copies in their user properties: the
            // enforcing gateway refuses them (header_mismatch); in passthrough the collector does not
            // read properties, so they are stored. Either way nothing crashes.
            let hostile = [
                String(repeating: "[", count: 513), String(repeating: "[", count: 60_000),
                String(repeating: #"{"a":"#, count: 512) + "{", "1e400", String(decoding: random.bytes(20_000).map { 0x21 + $0 % 94 }, as: UTF8.self),
            ]
            var hostileNonces: [String] = []
            let rejectionsBefore = attackerCounts.envelopeRejections.values.reduce(0, +)
            for value in hostile {
                for name in [EnvelopeProperty.workloadGeoID, EnvelopeProperty.signatureInput] {
                    let envelope = try await validEnvelope(Self.attacker, attacker, attackerKey)
                    hostileNonces.append(envelope.nonce)
                    try await attacker.publish(
                        MQTTMessage(
                            topic: topics.agentMetrics(Self.attacker), payload: envelope.payload,
                            properties: MQTTProperties(userProperties: [MQTTUserProperty(name, value)])))
                }
            }
            let hostileAnswered = await attackerInbox.wait(.seconds(15)) { counts in
                let answered = hostileNonces.filter { counts.receipts[$0] != nil }.count
                    + counts.envelopeRejections.values.reduce(0, +) - rejectionsBefore
                return answered >= hostileNonces.count
            }
            #expect(hostileAnswered)
            let afterHostile = attackerInbox.counts.withLock { $0 }
            if mode == "enforce" {
                #expect(afterHostile.envelopeRejections["signature_verification/header_mismatch"] == hostileNonces.count)
                #expect(afterHostile.receipts.isEmpty)
            } else {
                #expect(Set(afterHostile.receipts.keys) == Set(hostileNonces))
            }
            let lastAlive = try await honestEnvelope()
            honestNonces.append(lastAlive.nonce)
            try await honest.publish(MQTTMessage(topic: topics.agentMetrics(Self.honest), payload: lastAlive.payload))
            #expect(await honestInbox.wait(.seconds(10)) { $0.receipts[lastAlive.nonce] != nil })

            await attacker.shutdown()
            await honest.shutdown()
            await services.triggerGracefulShutdown()
            try await group.waitForAll()

            let stored = try system.records(of: "collector-1")
            let expectedStored = honestNonces + (mode == "enforce" ? [] : hostileNonces)
            #expect(stored.count == expectedStored.count, "stored \(stored.count), expected \(expectedStored.count)")
            #expect(Set(stored.map(\.nonce)) == Set(expectedStored))
            #expect(stored.filter { $0.agentName == Self.attacker }.count == expectedStored.count - honestNonces.count)
            let growth = rssAfter - rssBefore
            #expect(growth < 200 * 1024 * 1024, "RSS grew by \(growth / 1024 / 1024) MB")
            #expect(elapsed < .seconds(60), "the flood took \(elapsed)")
            print(
                """
                malformed input [\(mode)]: \(badCount) bad envelopes + \(nonceRequests.count) garbage nonce requests \
                sent in \(sentAt), refused \(rejected) \(attackerCounts.envelopeRejections), nonce answers \
                \(attackerCounts.nonceResponses.count) nonces + \(attackerCounts.requestRejections.count) rejections, \
                largest rejection \(attackerCounts.largestRejection) bytes, honest \(honestNonces.count) receipted \(honestCounts.receipts.count) stored \(stored.count), \
                RSS \(rssBefore / 1_048_576) → \(rssAfter / 1_048_576) MB, total \(elapsed); request_validation corpus by family \(perCategory)
                """)
        }
        await monitor.shutdown()
    }
}

