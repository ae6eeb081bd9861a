import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofRegistrar
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging
import Synchronization

/// The enrollment book's stand-in: approves every enrollment at its level and keeps what it was given.
final class RecordingRecorder: EnrollmentRecorder {
    private let recorded = Mutex<[VerifiedEnrollment]>([])

    var enrollments: [VerifiedEnrollment] { recorded.withLock { $0 } }

    func record(_ enrollment: VerifiedEnrollment) async throws -> EnrollmentDecision {
        recorded.withLock { $0.append(enrollment) }
        return .approved(enrollment.trust.level)
    }
}

/// A transport for a registrar driven through ``Registrar/handle(_:agent:now:)``: publishes go nowhere.
final class DiscardingTransport: MQTTTransport {
    let messages: MQTTMessages
    private let inbound: MQTTMessages.Continuation

    init() { (messages, inbound) = MQTTMessages.makeStream() }

    var isConnected: Bool { true }
    func waitUntilConnected(timeout: Duration) async throws {}
    func publish(_ message: MQTTMessage) async throws {}
    func publish(contentsOf messages: [MQTTMessage]) async throws -> [MQTTError?] {
        Array(repeating: nil, count: messages.count)
    }
    func subscribe(_ filter: String, qos: MQTTQoS) async throws -> Int32 { qos.rawValue }
    func request(_ message: MQTTMessage, timeout: Duration) async throws -> MQTTMessage { throw MQTTError.shutDown }
}

/// A swtpm with EK certificates from a local manufacturer CA, a signing key and an AK in it, and the files a
/// registrar needs (allowlist, token keys, trust store of that CA, EK certificate directory).
struct EnrollmentRig {
    static let agent = "agent-enroll"
    let tpm: SoftwareTPM
    let device: TPMDevice
    let directory: TemporaryDirectory
    let enrollment: AgentEnrollment

    static let signingHandle = PersistentHandle.defaultSigningKey
    static let attestationHandle = EnrollmentSettings.defaultAttestationKeyHandle

    init(manufacturer: SoftwareTPMManufacturer? = nil, certificates: Bool = true) async throws {
        tpm = try await SoftwareTPM.start(endorsementCertificates: certificates, manufacturer: manufacturer)
        device = try TPMDevice(tcti: tpm.tcti)
        _ = try await device.provisionSigningKey(.eccP256, at: Self.signingHandle)
        _ = try await device.provisionAttestationKey(at: Self.attestationHandle)
        directory = try TemporaryDirectory(prefix: "edgeproof-registrar")
        enrollment = AgentEnrollment(
            agent: Self.agent, device: device, signingKey: Self.signingHandle, attestationKey: Self.attestationHandle,
            requestedPlaces: [AllowedPlace(region: "US", state: "California")])
    }

    func stop() {
        tpm.stop()
        directory.remove()
    }

    /// A registrar configuration trusting `manufacturer` (this TPM's own CA unless given).
    func configuration(
        trusting manufacturer: SoftwareTPMManufacturer? = nil, platform: String = "", broker: String? = nil,
        rateBurst: Int = 100
    ) throws -> RegistrarConfiguration {
        let allowlist = directory.appending("allowlist.yaml")
        try Data("version: 1\n\(platform)agents: []\n".utf8).write(to: allowlist)
        let keys = directory.appending("registrar.keys")
        if !FileManager.default.fileExists(atPath: keys.path) { try NonceKeyFile.generate(at: keys) }
        var store: URL?
        if let ca = manufacturer ?? tpm.manufacturer {
            let directory = directory.appending("trust-\(UUID().uuidString.prefix(6))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: ca.rootCertificate, to: directory.appendingPathComponent("root.pem"))
            try FileManager.default.copyItem(
                at: ca.issuerCertificate, to: directory.appendingPathComponent("issuer.pem"))
            store = directory
        }
        var configuration = RegistrarConfiguration(
            allowlistFile: allowlist.path, trustStore: store?.path,
            ekCertificateDirectory: directory.appending("ek").path, tokenKeyFile: keys.path, rateBurst: rateBurst)
        configuration.allowlistPollInterval = .seconds(60)
        return configuration
    }

    func registrar(
        _ configuration: RegistrarConfiguration, recorder: RecordingRecorder = RecordingRecorder()
    ) throws -> Registrar {
        try Registrar(
            configuration: configuration, transport: DiscardingTransport(), recorder: recorder,
            logger: Logger(label: "test.registrar"))
    }

    /// The exchange through `registrar.handle`, as if on the agent's own topic `topicAgent`.
    static func exchange(_ registrar: Registrar, topicAgent: String = agent, now: @escaping @Sendable () -> Date = { Date() })
        -> AgentEnrollment.Exchange
    {
        { request in await registrar.handle(try request.jsonData(), agent: topicAgent, now: now()) }
    }
}

extension EnrollmentResponse {
    var challenge: EnrollmentChallenge? {
        if case .challenge(let challenge) = self { return challenge }
        return nil
    }

    var result: EnrollmentResult? {
        if case .result(let result) = self { return result }
        return nil
    }

    /// The refusal's reason code, nil when not refused.
    var refusal: String? { result?.rejection?.reasonCode }
}
