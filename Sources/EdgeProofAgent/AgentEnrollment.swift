import Crypto
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofTPM
import Foundation

/// The agent's side of attested enrollment: reads the EK certificate and public area and the TPM's vendor
/// info, provisions the attestation key (idempotent), sends `begin`, activates the registrar's credential,
/// certifies the signing key and quotes the PCRs the challenge names, both bound to the challenge, and
/// sends `finish`. The exchange is a closure, so the same steps run over MQTT (``exchange(over:topics:timeout:)``)
/// or in process.
public struct AgentEnrollment: Sendable {
    public let agent: String
    public let device: TPMDevice
    public let signingKey: PersistentHandle
    public let attestationKey: PersistentHandle
    public let requestedPlaces: [AllowedPlace]

    public init(
        agent: String, device: TPMDevice, signingKey: PersistentHandle, attestationKey: PersistentHandle,
        requestedPlaces: [AllowedPlace]
    ) {
        self.agent = agent
        self.device = device
        self.signingKey = signingKey
        self.attestationKey = attestationKey
        self.requestedPlaces = requestedPlaces
    }

    /// Sends one request and returns the registrar's response.
    public typealias Exchange = @Sendable (EnrollmentRequest) async throws -> EnrollmentResponse

    /// Both round trips; a refusal of `begin` comes back as the result.
    public func run(_ exchange: Exchange) async throws -> EnrollmentResult {
        let begin = try await self.begin()
        switch try await exchange(.begin(begin)) {
        case .result(let result):
            return result
        case .challenge(let challenge):
            let finish = try await self.finish(challenge, ekPublicHash: try ekPublicHash())
            guard case .result(let result) = try await exchange(.finish(finish)) else {
                throw EnrollmentError("the registrar answered a finish with another challenge")
            }
            return result
        }
    }

    /// The `begin` request: EK certificate (RSA-2048, when the TPM has one), EK, AK and signing key public
    /// areas, vendor info.
    public func begin() async throws -> EnrollmentBegin {
        let certificates = try await device.endorsementCertificates()
        let certificate = certificates.first { $0.index == TPMEndorsementCertificate.rsa2048Index }
        let endorsementKey = try await device.endorsementKey()
        try await device.flushEndorsementKey()
        let ak = try await device.provisionAttestationKey(at: attestationKey)
        let signing = try await device.objectPublic(at: signingKey)
        return EnrollmentBegin(
            agentName: agent, ekCertificate: certificate.map { Data($0.der).base64EncodedString() },
            ekPublic: Data(endorsementKey.object.publicArea).base64EncodedString(),
            akPublic: Data(ak.object.publicArea).base64EncodedString(),
            signingKeyPublic: Data(signing.publicArea).base64EncodedString(),
            tpmVendor: try await device.vendorInfo(), requestedPlaces: requestedPlaces)
    }

    /// The EK public hash the registrar binds the challenge to (SHA-256 of the EK's DER SPKI).
    public func ekPublicHash() async throws -> PublicKeyHash {
        let key = try await device.endorsementKey()
        try await device.flushEndorsementKey()
        return key.publicKey.hash
    }

    /// The `finish` request answering `challenge`.
    public func finish(_ challenge: EnrollmentChallenge, ekPublicHash: PublicKeyHash) async throws
        -> EnrollmentFinish
    {
        guard let blob = Data(base64Encoded: challenge.credentialBlob),
            let encryptedSecret = Data(base64Encoded: challenge.encryptedSecret),
            let certifyNonce = Data(base64Encoded: challenge.certifyNonce)
        else { throw EnrollmentError("the challenge's credential or nonce is not base64") }
        let secret = try await device.activateCredential(
            Array(blob), encryptedSecret: Array(encryptedSecret), attestationKey: attestationKey)
        let qualifyingData = Array(
            EnrollmentBinding.qualifyingData(certifyNonce: certifyNonce, agent: agent, ekPublicHash: ekPublicHash))
        let certify = try await device.certify(signingKey, by: attestationKey, qualifyingData: qualifyingData)
        let quote = try await device.quote(pcrs: challenge.pcrs, by: attestationKey, qualifyingData: qualifyingData)
        var pcrValues = [String: String]()
        for value in quote.pcrValues { pcrValues[String(value.index)] = Hex.encode(value.digest) }
        return EnrollmentFinish(
            agentName: agent, token: challenge.token,
            activationProof: EnrollmentBinding.activationProof(secret: secret, token: challenge.token)
                .base64EncodedString(),
            certify: .init(
                attest: Data(certify.attest).base64EncodedString(),
                signature: Data(certify.signature).base64EncodedString()),
            quote: .init(
                attest: Data(quote.evidence.attest).base64EncodedString(),
                signature: Data(quote.evidence.signature).base64EncodedString()),
            pcrValues: pcrValues, executableDigest: try Self.executableDigest(),
            kernelRelease: Self.kernelRelease())
    }

    /// Request/response over MQTT v5 on the agent's own enroll topics.
    public static func exchange(over client: any MQTTTransport, topics: TopicTree, agent: String, timeout: Duration)
        -> Exchange
    {
        { request in
            let message = MQTTMessage(
                topic: topics.enrollRequest(agent), payload: try request.jsonData(),
                properties: MQTTProperties(responseTopic: topics.enrollResponse(agent)))
            let reply = try await client.request(message, timeout: timeout)
            do {
                return try EnrollmentResponse(strictJSON: reply.payload)
            } catch {
                throw EnrollmentError("the registrar's response is malformed: \(error)")
            }
        }
    }

    /// SHA-256 hex of the running executable (/proc/self/exe), read in chunks.
    static func executableDigest() throws -> String {
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/exe") else {
            throw EnrollmentError("cannot read /proc/self/exe")
        }
        defer { try? handle.close() }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        return Hex.encode(hash.finalize())
    }

    /// `uname -r`.
    static func kernelRelease() -> String {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown"
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Why enrollment could not be completed on the agent's side (not a refusal: those are results).
public struct EnrollmentError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
