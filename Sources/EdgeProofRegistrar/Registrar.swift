import EdgeProofAttestation
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofOperations
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The registrar service: answers `agents/{agent}/enroll/request` (through `$share/registrars/`) with a
/// challenge or a result on the agent's own `enroll/response` (never a foreign Response Topic), verifying
/// with ``EnrollmentVerifier`` and handing what passed to its ``EnrollmentRecorder``. Every refusal goes to
/// the agent as an aligned rejection (`rejected_by: registrar`, `validation_type: trust_evidence`) inside
/// the result, and as a trust event on `events/registrar/{id}`.
public final class Registrar: Service, Sendable {
    public let configuration: RegistrarConfiguration
    let logger: Logger
    let topics: TopicTree
    let verifier: EnrollmentVerifier
    let recorder: any EnrollmentRecorder
    let rateLimiter: EnrollmentRateLimiter
    let client: any MQTTTransport
    public let allowlistWatcher: AllowlistWatcher
    let metrics: ServiceMetrics
    let startedAt = Date()
    /// Set once the enrollment requests' subscription is acknowledged.
    let subscribed = Atomic<Bool>(false)

    public init(
        configuration: RegistrarConfiguration, transport: any MQTTTransport, recorder: any EnrollmentRecorder,
        metrics: ServiceMetrics = ServiceMetrics(), logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.topics = TopicTree(prefix: configuration.broker.topicPrefix)
        self.client = transport
        self.recorder = recorder
        self.metrics = metrics
        do {
            allowlistWatcher = try AllowlistWatcher(
                file: AllowlistFile(path: configuration.allowlistFile),
                pollInterval: configuration.allowlistPollInterval, metrics: metrics, logger: logger)
            let keys = try NonceKeyFile(path: configuration.tokenKeyFile).load()
            let trustStore = try configuration.trustStore.map {
                try EKCertificateVerifier(trustStoreDirectory: URL(fileURLWithPath: $0))
            }
            try FileManager.default.createDirectory(
                atPath: configuration.ekCertificateDirectory, withIntermediateDirectories: true)
            verifier = EnrollmentVerifier(
                trustStore: trustStore, allowPinningFallback: configuration.allowPinningFallback, tokenKeys: keys,
                tokenLifetime: TimeInterval(configuration.tokenLifetime.components.seconds), pcrs: configuration.pcrs)
        } catch {
            throw RegistrarError("cannot start: \(error)")
        }
        rateLimiter = EnrollmentRateLimiter(burst: configuration.rateBurst, perSecond: configuration.ratePerSecond)
    }

    /// The registrar ready to run: its MQTT client, the registrar, its allowlist watcher.
    public static func compose(
        configuration: RegistrarConfiguration, recorder: any EnrollmentRecorder,
        metrics: ServiceMetrics = ServiceMetrics(component: "registrar"), logger: Logger
    ) throws -> ComposedService<Registrar> {
        try configuration.validate()
        let will = statusMessage(.offline, configuration: configuration, since: Date(), counters: [:])
        let client = try MQTTClient(
            configuration: configuration.broker.clientConfiguration(clientID: configuration.id, will: will),
            logger: logger)
        let registrar = try Registrar(
            configuration: configuration, transport: client, recorder: recorder, metrics: metrics, logger: logger)
        metrics.watch(client)
        var helpers: [any Service] = [registrar.allowlistWatcher]
        if let settings = configuration.metricsEndpoint {
            helpers.append(
                try OperationsEndpoint(
                    settings: settings, metrics: metrics,
                    readiness: { [weak registrar] in registrar?.readiness ?? .notReady("stopped") }, logger: logger))
        }
        return ComposedService(client: client, component: registrar, helpers: helpers)
    }

    /// Ready when connected and subscribed to the enrollment requests (the allowlist loads at start).
    public var readiness: Readiness {
        .first([
            (client.isConnected, "not connected to the broker"),
            (subscribed.load(ordering: .relaxed), "subscriptions not acknowledged yet"),
        ])
    }

    /// The shared subscription: one registrar of the group answers each request.
    public var requestFilter: String { "$share/registrars/\(topics.allAgentEnrollRequests)" }

    public func run() async throws {
        try await client.subscribe(requestFilter)
        subscribed.store(true, ordering: .relaxed)
        logger.info("registrar started", metadata: ["id": "\(configuration.id)"])
        await publish(statusMessage(.online))
        await withTaskGroup(of: Void.self) { group in
            for await message in client.messages.cancelOnGracefulShutdown() {
                guard let (kind, agent) = topics.parse(message.topic), kind == .enrollRequest else {
                    metrics.count("ignored.unexpected_topic")
                    continue
                }
                group.addTask { await self.answer(message, agent: agent) }
            }
            await group.waitForAll()
        }
        logger.info("registrar stopping", metadata: ["id": "\(configuration.id)"])
        await publish(statusMessage(.offline))
    }

    /// Answers one request on the agent's own response topic with the request's Correlation Data.
    func answer(_ message: MQTTMessage, agent: String) async {
        let response = await handle(message.payload, agent: agent)
        guard let payload = try? response.jsonData() else { return }
        await publish(
            MQTTMessage(
                topic: topics.enrollResponse(agent), payload: payload,
                properties: MQTTProperties(correlationData: message.properties.correlationData)))
    }

    /// The whole decision for one request from `agent` (the topic's): size, rate, shape, agent binding,
    /// then begin's or finish's checks and, for a finish that passed, the recorder's decision.
    public func handle(_ payload: Data, agent: String, now: Date = Date()) async -> EnrollmentResponse {
        do throws(ValidationFailure) {
            guard payload.count <= configuration.maximumRequestBytes else {
                throw ValidationFailure(
                    .payloadTooLarge,
                    "enrollment request of \(payload.count) bytes exceeds \(configuration.maximumRequestBytes)",
                    details: ["size": .number(Double(payload.count))])
            }
            guard rateLimiter.allow(agent, now: now) else {
                throw ValidationFailure(.enrollmentRateLimited, "more enrollment requests than the limit allows")
            }
            let request: EnrollmentRequest
            do {
                request = try EnrollmentRequest(strictJSON: payload)
            } catch {
                throw ValidationFailure(.enrollmentMalformed, error.description(in: "enrollment request"))
            }
            guard request.agentName == agent else {
                throw ValidationFailure(
                    .enrollmentAgentMismatch, "agent_name \(request.agentName) on the topic of \(agent)")
            }
            switch request {
            case .begin(let begin):
                let begun = try await verifier.begin(begin, now: now)
                storeCertificate(begun)
                metrics.count("challenges")
                return .challenge(begun.challenge)
            case .finish(let finish):
                let platform = allowlistWatcher.allowlist.policy.platform
                let enrollment = try verifier.finish(finish, platform: platform, now: now)
                return await record(enrollment, now: now)
            }
        } catch {
            return await refuse(error, agent: agent, now: now)
        }
    }

    private func record(_ enrollment: VerifiedEnrollment, now: Date) async -> EnrollmentResponse {
        let agent = enrollment.agent
        let decision: EnrollmentDecision
        do {
            decision = try await recorder.record(enrollment)
        } catch let failure as ValidationFailure {
            return await refuse(failure, agent: agent, now: now)
        } catch {
            logger.error("the enrollment book failed", metadata: ["agent": "\(agent)", "error": "\(error)"])
            metrics.count("record_failed")
            return .result(EnrollmentResult(status: .pending, message: "not recorded yet, try again: \(error)"))
        }
        let details: [String: JSONValue] = [
            "ek_public_hash": .string(enrollment.trust.ekPublicHash.hex),
            "level": .string(enrollment.trust.level.rawValue),
        ]
        switch decision {
        case .approved(let level):
            metrics.count("approved")
            await emit(kind: "enrollment_approved", agent: agent, details: details)
            return .result(EnrollmentResult(status: .approved, trustLevel: level))
        case .pending(let why):
            metrics.count("pending")
            await emit(kind: "enrollment_pending", agent: agent, details: details.merging(["why": .string(why)]) { a, _ in a })
            return .result(EnrollmentResult(status: .pending, message: why))
        case .refused(let failure):
            return await refuse(failure, agent: agent, now: now)
        }
    }

    private func refuse(_ failure: ValidationFailure, agent: String, now: Date) async -> EnrollmentResponse {
        let rejection = Rejection(failure, rejectedBy: .registrar, at: now)
        metrics.count("rejected.\(failure.reason.code)")
        logger.notice(
            "enrollment refused", metadata: ["agent": "\(agent)", "reason": "\(failure.reason.code)",
                "error": "\(failure.message)"])
        await emit(kind: "rejection", agent: agent, rejection: rejection)
        return .result(EnrollmentResult(status: .refused, rejection: rejection))
    }

    /// Keeps the full EK certificate (a permanent identifier, not for the allowlist) by its public hash.
    private func storeCertificate(_ begun: EnrollmentVerifier.Begun) {
        guard let der = begun.ekCertificateDER else { return }
        let url = URL(fileURLWithPath: configuration.ekCertificateDirectory)
            .appendingPathComponent("\(begun.ekPublicHash.hex).der")
        guard !FileManager.default.fileExists(atPath: url.path) else { return }
        do {
            try der.write(to: url, options: .atomic)
        } catch {
            logger.error("cannot store the EK certificate", metadata: ["file": "\(url.path)", "error": "\(error)"])
        }
    }

    // MARK: - Events and status

    func emit(
        kind: String, agent: String? = nil, rejection: Rejection? = nil, details: [String: JSONValue] = [:]
    ) async {
        let event = TrustEvent(
            timestamp: Timestamp.string(from: Date()), component: "registrar", id: configuration.id, kind: kind,
            agentName: agent, rejection: rejection, details: details)
        guard let payload = try? event.jsonData() else { return }
        await publish(MQTTMessage(topic: topics.events(component: "registrar", id: configuration.id), payload: payload))
    }

    func statusMessage(_ state: ComponentStatus.State) -> MQTTMessage {
        Self.statusMessage(
            state, configuration: configuration, since: state == .online ? startedAt : Date(),
            counters: metrics.snapshot)
    }

    static func statusMessage(
        _ state: ComponentStatus.State, configuration: RegistrarConfiguration, since: Date, counters: [String: Int]
    ) -> MQTTMessage {
        let topics = TopicTree(prefix: configuration.broker.topicPrefix)
        let status = ComponentStatus(
            component: "registrar", id: configuration.id, state: state, since: Timestamp.string(from: since),
            counters: counters)
        return MQTTMessage(
            topic: topics.status(component: "registrar", id: configuration.id),
            payload: (try? WireJSON.encode(status)) ?? Data(), retain: true)
    }

    /// Publishes; a failure is logged and counted, never thrown.
    func publish(_ message: MQTTMessage) async {
        do {
            try await client.publish(message)
        } catch {
            metrics.count("publish_failed")
            logger.warning("publish failed", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
        }
    }

    public var counters: [String: Int] { metrics.snapshot }
}
