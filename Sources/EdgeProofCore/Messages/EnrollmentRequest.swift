import Foundation

/// Payload of `agents/{agent}/enroll/request` (MQTT v5 Response Topic = the agent's `enroll/response`,
/// Correlation Data = random, as for nonce requests): the first (`begin`) or second (`finish`) round trip.
public enum EnrollmentRequest: Sendable, Hashable, Codable {
    case begin(EnrollmentBegin)
    case finish(EnrollmentFinish)

    /// Larger requests are refused unread (`payload_too_large`); a begin with a 2 KiB EK certificate is ~4 KiB.
    public static let maximumSize = 16 * 1024

    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        switch type {
        case "begin": self = .begin(try EnrollmentBegin(from: decoder))
        case "finish": self = .finish(try EnrollmentFinish(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: try decoder.container(keyedBy: TypeKey.self),
                debugDescription: "type must be \"begin\" or \"finish\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case .begin(let begin):
            try container.encode("begin", forKey: .type)
            try begin.encode(to: encoder)
        case .finish(let finish):
            try container.encode("finish", forKey: .type)
            try finish.encode(to: encoder)
        }
    }

    /// The agent the request says it is from (checked against the topic's).
    public var agentName: String {
        switch self {
        case .begin(let begin): begin.agentName
        case .finish(let finish): finish.agentName
        }
    }

    /// Reads a request strictly (``StrictJSONDecoder``).
    public init(strictJSON payload: some Collection<UInt8>) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(EnrollmentRequest.self, from: payload)
    }

    public func jsonData() throws -> Data { try WireJSON.encode(self) }
}

/// The first request: who the agent is and the TPM objects it wants enrolled. Binary fields are base64.
public struct EnrollmentBegin: Sendable, Hashable, Codable {
    public var agentName: String
    /// DER (as read from NV; the registrar strips the wrappers some TPMs add). Absent: a TPM without one,
    /// which can only be pinned by its EK public hash.
    public var ekCertificate: String?
    /// TPM2B_PUBLIC of the EK, of the attestation key and of the envelope signing key.
    public var ekPublic: String
    public var akPublic: String
    public var signingKeyPublic: String
    public var tpmVendor: TPMVendorInfo
    /// Places the agent asks to be allowed in, as in the allowlist.
    public var requestedPlaces: [AllowedPlace]

    enum CodingKeys: String, CodingKey {
        case agentName = "agent_name"
        case ekCertificate = "ek_certificate"
        case ekPublic = "ek_public"
        case akPublic = "ak_public"
        case signingKeyPublic = "signing_key_public"
        case tpmVendor = "tpm_vendor"
        case requestedPlaces = "requested_places"
    }

    public init(
        agentName: String, ekCertificate: String?, ekPublic: String, akPublic: String, signingKeyPublic: String,
        tpmVendor: TPMVendorInfo, requestedPlaces: [AllowedPlace]
    ) {
        self.agentName = agentName
        self.ekCertificate = ekCertificate
        self.ekPublic = ekPublic
        self.akPublic = akPublic
        self.signingKeyPublic = signingKeyPublic
        self.tpmVendor = tpmVendor
        self.requestedPlaces = requestedPlaces
    }
}

/// The second request: the challenge answered. `activation_proof` = base64 HMAC-SHA256 keyed with the
/// activated secret over "edgeproof-enroll" ‖ the token's UTF-8 bytes, so the secret never crosses the broker.
public struct EnrollmentFinish: Sendable, Hashable, Codable {
    public var agentName: String
    public var token: String
    public var activationProof: String
    /// TPM2_Certify of the signing key and TPM2_Quote, by the AK, with the challenge's qualifying data.
    public var certify: Evidence
    public var quote: Evidence
    /// PCR index (decimal text) → SHA-256 bank value (hex), the values the quote covers.
    public var pcrValues: [String: String]
    /// SHA-256 hex of /proc/self/exe and `uname -r`, as the agent reports them.
    public var executableDigest: String
    public var kernelRelease: String

    /// base64 TPMS_ATTEST and base64 TPMT_SIGNATURE.
    public struct Evidence: Sendable, Hashable, Codable {
        public var attest: String
        public var signature: String

        public init(attest: String, signature: String) {
            self.attest = attest
            self.signature = signature
        }
    }

    enum CodingKeys: String, CodingKey {
        case agentName = "agent_name"
        case token
        case activationProof = "activation_proof"
        case certify, quote
        case pcrValues = "pcr_values"
        case executableDigest = "executable_digest"
        case kernelRelease = "kernel_release"
    }

    public init(
        agentName: String, token: String, activationProof: String, certify: Evidence, quote: Evidence,
        pcrValues: [String: String], executableDigest: String, kernelRelease: String
    ) {
        self.agentName = agentName
        self.token = token
        self.activationProof = activationProof
        self.certify = certify
        self.quote = quote
        self.pcrValues = pcrValues
        self.executableDigest = executableDigest
        self.kernelRelease = kernelRelease
    }
}
