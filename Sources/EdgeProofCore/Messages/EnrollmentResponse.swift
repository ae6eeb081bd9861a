import Crypto
import Foundation

/// Payload of `agents/{agent}/enroll/response`, with the request's Correlation Data: a challenge (after a
/// begin) or the result (after a finish, or a refusal of either).
public enum EnrollmentResponse: Sendable, Hashable, Codable {
    case challenge(EnrollmentChallenge)
    case result(EnrollmentResult)

    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        switch type {
        case "challenge": self = .challenge(try EnrollmentChallenge(from: decoder))
        case "result": self = .result(try EnrollmentResult(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: try decoder.container(keyedBy: TypeKey.self),
                debugDescription: "type must be \"challenge\" or \"result\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case .challenge(let challenge):
            try container.encode("challenge", forKey: .type)
            try challenge.encode(to: encoder)
        case .result(let result):
            try container.encode("result", forKey: .type)
            try result.encode(to: encoder)
        }
    }

    /// Reads a response strictly (``StrictJSONDecoder``).
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(EnrollmentResponse.self, from: payload)
    }

    public func jsonData() throws -> Data { try WireJSON.encode(self) }
}

/// TPM2_MakeCredential's output for the AK's Name (as the registrar computed it) and the EK's key, and what
/// certify and quote must be bound to. Binary fields are base64.
public struct EnrollmentChallenge: Sendable, Hashable, Codable {
    /// TPM2B_ID_OBJECT's and TPM2B_ENCRYPTED_SECRET's buffers, without their size fields.
    public var credentialBlob: String
    public var encryptedSecret: String
    public var certifyNonce: String
    /// Sealed by the registrars' shared key; opaque to the agent, returned in the finish.
    public var token: String
    /// The SHA-256 bank's PCRs to quote.
    public var pcrs: [Int]

    enum CodingKeys: String, CodingKey {
        case credentialBlob = "credential_blob"
        case encryptedSecret = "encrypted_secret"
        case certifyNonce = "certify_nonce"
        case token, pcrs
    }

    public init(credentialBlob: String, encryptedSecret: String, certifyNonce: String, token: String, pcrs: [Int]) {
        self.credentialBlob = credentialBlob
        self.encryptedSecret = encryptedSecret
        self.certifyNonce = certifyNonce
        self.token = token
        self.pcrs = pcrs
    }
}

/// How an enrollment ended.
public struct EnrollmentResult: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case approved, pending, refused
    }

    public var status: Status
    /// Set when approved.
    public var trustLevel: TrustLevel?
    /// Why pending (waiting for an operator), when pending.
    public var message: String?
    /// The aligned rejection (`rejected_by: registrar`), when refused.
    public var rejection: Rejection?

    enum CodingKeys: String, CodingKey {
        case status
        case trustLevel = "trust_level"
        case message, rejection
    }

    public init(status: Status, trustLevel: TrustLevel? = nil, message: String? = nil, rejection: Rejection? = nil) {
        self.status = status
        self.trustLevel = trustLevel
        self.message = message
        self.rejection = rejection
    }
}

/// The binding both sides compute: certify and quote carry qualifying data = SHA-256(certify nonce ‖ agent
/// name UTF-8 ‖ EK public hash bytes), and the activation proof is an HMAC under the activated secret.
public enum EnrollmentBinding {
    public static func qualifyingData(certifyNonce: some DataProtocol, agent: String, ekPublicHash: PublicKeyHash)
        -> Data
    {
        var hash = SHA256()
        hash.update(data: Data(certifyNonce))
        hash.update(data: Data(agent.utf8))
        hash.update(data: Data(ekPublicHash.bytes))
        return Data(hash.finalize())
    }

    static let proofLabel = Data("edgeproof-enroll".utf8)

    public static func activationProof(secret: some DataProtocol, token: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(
            for: proofLabel + Data(token.utf8), using: SymmetricKey(data: Data(secret))))
    }

    /// Constant-time check of a proof against the secret.
    public static func isValidActivationProof(_ proof: some DataProtocol, secret: some DataProtocol, token: String)
        -> Bool
    {
        HMAC<SHA256>.isValidAuthenticationCode(
            Data(proof), authenticating: proofLabel + Data(token.utf8), using: SymmetricKey(data: Data(secret)))
    }
}
