import Crypto
import EdgeProofCore
import EdgeProofDemo
import EdgeProofMQTT
import EdgeProofService
import EdgeProofTesting
import Foundation
import ServiceLifecycle
import Synchronization

/// What came back for one published message.
enum Outcome: CustomStringConvertible {
    case receipt(Receipt)
    case rejection(Rejection)
    /// The broker refused the PUBLISH with this MQTT v5 reason code.
    case refused(Int32)
    /// Nothing within the wait.
    case silence

    var description: String {
        switch self {
        case .receipt(let receipt): "receipt from \(receipt.collector)"
        case .rejection(let rejection):
            "rejection by \(rejection.rejectedBy.rawValue): \(rejection.validationType.rawValue)/\(rejection.reasonCode ?? "?")"
        case .refused(let code): "broker refused publish (\(code))"
        case .silence: "nothing"
        }
    }

    var rejection: Rejection? {
        if case .rejection(let rejection) = self { rejection } else { nil }
    }

    var isReceipt: Bool {
        if case .receipt = self { true } else { false }
    }

    /// "collector/nonce_validation/nonce_replayed", for one readable expectation per case.
    var summary: String {
        switch self {
        case .receipt: "accepted"
        case .rejection(let r): "\(r.rejectedBy.rawValue)/\(r.validationType.rawValue)/\(r.reasonCode ?? "?")"
        case .refused(let code): "broker/\(code)"
        case .silence: "silence"
        }
    }
}

/// One MQTT connection with some identity's certificate: an honest agent (signing with its TPM) or an
/// attacker holding a certificate. Collects what arrives on that identity's receipts and rejections topics.
final class Link: Sendable {
    let identity: String
    let client: MQTTClient
    let topics = TopicTree()
    private let inbox: Inbox

    /// `cleanStart: false` keeps the broker session across reconnects, as agents do, so answers published
    /// while the link was down still arrive.
    init(_ identity: String, system: SystemFixture, listenAs agent: String? = nil, cleanStart: Bool = true) async throws {
        self.identity = identity
        client = try MQTTClient(
            configuration: MQTTConfiguration(
                port: Int(system.broker.port), clientID: identity, caFile: system.broker.caFile,
                certificateFile: system.broker.certificate(for: identity), keyFile: system.broker.key(for: identity),
                cleanStart: cleanStart),
            logger: system.logger)
        inbox = Inbox(client)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(10))
        listensAs = agent ?? (identity.hasPrefix("agent-") ? identity : nil)
        try await resubscribe()
    }

    private let listensAs: String?

    /// (Again) subscribes to the receipts and rejections of the agent this link listens as, once connected.
    func resubscribe() async throws {
        try await Task.sleep(for: .milliseconds(100))
        try await client.waitUntilConnected(timeout: .seconds(10))
        guard let agent = listensAs else { return }
        try await client.subscribe(topics.agentReceipts(agent))
        try await client.subscribe(topics.agentRejections(agent))
    }

    func close() async {
        await client.shutdown()
    }

    /// A real nonce for this identity, through gateway and collector.
    func nonce() async throws -> NonceResponse {
        let response = try await client.request(
            MQTTMessage(
                topic: topics.agentNonceRequest(identity), payload: Data("{}".utf8),
                properties: MQTTProperties(responseTopic: topics.agentNonceResponse(identity))),
            timeout: .seconds(10))
        return try JSONDecoder().decode(NonceResponse.self, from: response.payload)
    }

    /// Publishes `payload` on `topic` (default: this identity's metrics topic) and returns the broker's
    /// refusal, or the first receipt or rejection that arrives afterwards (matched by `nonce` when the
    /// answer names one).
    func send(
        _ payload: Data, topic: String? = nil, properties: [MQTTUserProperty] = [], nonce: String? = nil,
        wait: Duration = .seconds(15)
    ) async throws -> Outcome {
        let mark = inbox.messages.count
        do {
            try await client.publish(
                MQTTMessage(
                    topic: topic ?? topics.agentMetrics(identity), payload: payload,
                    properties: MQTTProperties(userProperties: properties)))
        } catch let error as MQTTError {
            guard let code = error.reasonCode else { throw error }
            // mosquitto answers a denied PUBLISH with reason 135 and may then close the connection;
            // the link reconnects with a clean session, so subscribe again before going on.
            try await resubscribe()
            return .refused(code)
        }
        return try await next(after: mark, nonce: nonce, wait: wait)
    }

    /// The first receipt or rejection after position `mark` of the inbox.
    func next(after mark: Int, nonce: String?, wait: Duration = .seconds(15)) async throws -> Outcome {
        var found: Outcome?
        try await Poll.until(timeout: wait, every: .milliseconds(20)) {
            found = inbox.messages.dropFirst(mark).lazy.compactMap { Self.outcome(of: $0, nonce: nonce) }.first
            return found != nil
        }
        return found ?? .silence
    }

    /// Every receipt or rejection for `nonce` seen so far.
    func outcomes(for nonce: String) -> [Outcome] {
        inbox.messages.compactMap { Self.outcome(of: $0, nonce: nonce, strictly: true) }
    }

    var inboxCount: Int { inbox.messages.count }

    /// `strictly`: only answers that name `nonce` (otherwise rejections that name no nonce count too,
    /// e.g. for envelopes whose header could not be parsed).
    private static func outcome(of message: MQTTMessage, nonce: String?, strictly: Bool = false) -> Outcome? {
        if message.topic.hasSuffix("/receipts"), let receipt = try? JSONDecoder().decode(Receipt.self, from: message.payload) {
            return nonce == nil || receipt.nonce == nonce ? .receipt(receipt) : nil
        }
        if message.topic.hasSuffix("/rejections"),
            let rejection = try? JSONDecoder().decode(Rejection.self, from: message.payload)
        {
            let named = rejection.details["nonce"]?.stringValue
            return nonce == nil || (named == nil && !strictly) || named == nonce ? .rejection(rejection) : nil
        }
        return nil
    }
}

/// Claims as an agent in Santa Clara would sign them.
func attackClaims(
    agent: String, keyHash: PublicKeyHash, nonce: String, city: String = "Santa Clara", cpu: Double = 12.5,
    timestamp: Date = Date()
) -> EnvelopeClaims {
    let now = Timestamp.string(from: timestamp)
    return EnvelopeClaims(
        agentName: agent, publicKeyHash: keyHash, nonce: nonce, timestamp: now,
        geographicRegion: GeographicRegion(region: "US", state: "California", city: city),
        metrics: MetricsBatch(
            service: ServiceInfo(name: "edgeproof-attack-test", version: "1", instanceID: agent),
            samples: [MetricSample(timestamp: now, metricType: "system", values: ["cpu_percent": .number(cpu)])]))
}

/// A flattened JWS from its three members, exactly as given.
func flattenedJWS(protected: String, payload: String, signature: String) -> Data {
    Data(#"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(signature)"}"#.utf8)
}

/// Base64url of a JSON encoding with sorted keys, as the signer produces it.
func encodedJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Base64URL.encode(try encoder.encode(value))
}

/// A one-way signal between tasks.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func raise() { value.store(true, ordering: .sequentiallyConsistent) }
    var isRaised: Bool { value.load(ordering: .sequentiallyConsistent) }
}

/// Collector(s) and gateway as in-process services (the kit's ``RunningServices``) that can be stopped
/// and started again, waited for until their statuses say online.
///
/// Readiness is the latest retained status of each component, not a wall-clock comparison: this
/// machine's clock can step, and `StatusWatcher.waitForOnline(after:)` compares wall-clock times.
final class OnlineServices {
    private let running: RunningServices
    private let statuses: StatusWatcher
    private let keys: [String]

    init(_ services: [any Service], system: SystemFixture, statuses: StatusWatcher, waitFor keys: [String])
        async throws
    {
        self.statuses = statuses
        self.keys = keys
        let running = RunningServices(services, logger: system.logger)
        self.running = running
        let ended = Flag()
        Task {
            defer { ended.raise() }
            try? await running.waitUntilFinished()
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while !keys.allSatisfy({ statuses.latest($0)?.state == .online }) {
            if ended.isRaised {
                try await running.waitUntilFinished()
                throw TestFixtureError("the services ended before \(keys) reported online")
            }
            guard ContinuousClock.now < deadline else {
                try? await running.stop()
                throw TestFixtureError("\(keys) did not all report online within 60 s")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops the services and waits until the monitor has seen each of them go offline, so that a
    /// restart waits for its own "online".
    func stop() async throws {
        try await running.stop()
        let deadline = ContinuousClock.now + .seconds(15)
        while !keys.allSatisfy({ statuses.latest($0)?.state == .offline }) {
            guard ContinuousClock.now < deadline else {
                throw TestFixtureError("\(keys) did not all report offline within 15 s")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
