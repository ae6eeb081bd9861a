/// An allowlist entry's `trust` block: what an auditor needs to re-check, offline, that the entry's
/// signing key lives in a genuine TPM (`edgeproof allowlist verify-evidence`). The full EK certificate is
/// not here (it is a permanent, global identifier): the registrar's store keeps it, by `ek_public_hash`.
public struct TrustBlock: Sendable, Hashable, Codable {
    public var level: TrustLevel
    /// SHA-256 of the EK's DER SubjectPublicKeyInfo (`edgeproof tpm ek --format hash`).
    public var ekPublicHash: PublicKeyHash
    /// The EK certificate's issuer (RFC 4514) and serial number (hex), when there was a certificate.
    public var ekIssuer: String?
    public var ekSerial: String?
    public var tpmVendor: TPMVendorInfo?
    /// Base64 TPM2B_PUBLIC of the attestation key and of the signing key.
    public var akPublic: String
    public var signingKeyPublic: String
    /// TPM2_Certify of the signing key by the AK.
    public var certify: SignedAttestation
    /// TPM2_Quote by the AK, with the PCR values it covers.
    public var quote: QuoteEvidence
    /// SHA-256 hex of the agent's executable and its kernel release, as the agent reported them.
    public var executableDigest: String?
    public var kernelRelease: String?
    /// ISO 8601 UTC: first enrollment with this evidence, its last attestation, and who approved it
    /// ("operator:<user>", "expected", …).
    public var enrolledAt: String
    public var attestedAt: String
    public var approvedBy: String

    enum CodingKeys: String, CodingKey {
        case level
        case ekPublicHash = "ek_public_hash"
        case ekIssuer = "ek_issuer"
        case ekSerial = "ek_serial"
        case tpmVendor = "tpm_vendor"
        case akPublic = "ak_public"
        case signingKeyPublic = "signing_key_public"
        case certify, quote
        case executableDigest = "executable_digest"
        case kernelRelease = "kernel_release"
        case enrolledAt = "enrolled_at"
        case attestedAt = "attested_at"
        case approvedBy = "approved_by"
    }

    public init(
        level: TrustLevel, ekPublicHash: PublicKeyHash, ekIssuer: String? = nil, ekSerial: String? = nil,
        tpmVendor: TPMVendorInfo? = nil, akPublic: String, signingKeyPublic: String, certify: SignedAttestation,
        quote: QuoteEvidence, executableDigest: String? = nil, kernelRelease: String? = nil, enrolledAt: String,
        attestedAt: String, approvedBy: String
    ) {
        self.level = level
        self.ekPublicHash = ekPublicHash
        self.ekIssuer = ekIssuer
        self.ekSerial = ekSerial
        self.tpmVendor = tpmVendor
        self.akPublic = akPublic
        self.signingKeyPublic = signingKeyPublic
        self.certify = certify
        self.quote = quote
        self.executableDigest = executableDigest
        self.kernelRelease = kernelRelease
        self.enrolledAt = enrolledAt
        self.attestedAt = attestedAt
        self.approvedBy = approvedBy
    }
}

/// A TPMS_ATTEST the AK signed: `attest` base64 of its bytes, `signature` base64 TPMT_SIGNATURE,
/// `qualifying_data` hex (the registrar's challenge binding).
public struct SignedAttestation: Sendable, Hashable, Codable {
    public var attest: String
    public var signature: String
    public var qualifyingData: String

    enum CodingKeys: String, CodingKey {
        case attest, signature
        case qualifyingData = "qualifying_data"
    }

    public init(attest: String, signature: String, qualifyingData: String) {
        self.attest = attest
        self.signature = signature
        self.qualifyingData = qualifyingData
    }
}

/// A quote with the PCR values whose digest it signed: `pcr_values` maps the PCR index (decimal text)
/// to the value's hex, in the `pcr_bank` ("sha256").
public struct QuoteEvidence: Sendable, Hashable, Codable {
    public var attest: String
    public var signature: String
    public var qualifyingData: String
    public var pcrBank: String
    public var pcrValues: [String: String]

    enum CodingKeys: String, CodingKey {
        case attest, signature
        case qualifyingData = "qualifying_data"
        case pcrBank = "pcr_bank"
        case pcrValues = "pcr_values"
    }

    public init(attest: String, signature: String, qualifyingData: String, pcrBank: String = "sha256",
        pcrValues: [String: String])
    {
        self.attest = attest
        self.signature = signature
        self.qualifyingData = qualifyingData
        self.pcrBank = pcrBank
        self.pcrValues = pcrValues
    }
}
