/// The registrar's refusals of enrollment evidence (`validation_type: trust_evidence`), one code per check.
extension RejectionReason {
    private static func evidence(_ code: String, _ summary: String) -> RejectionReason {
        RejectionReason(code: code, validationType: .trustEvidence, summary: summary)
    }

    public static let enrollmentMalformed = evidence(
        "enrollment_malformed", "Enrollment request is not strict JSON of its shape, or a field does not decode")
    public static let enrollmentAgentMismatch = evidence(
        "enrollment_agent_mismatch", "Enrollment names another agent than its topic or its token")
    public static let enrollmentRateLimited = evidence(
        "enrollment_rate_limited", "Too many enrollment requests from this agent")
    public static let ekCertificateMalformed = evidence(
        "ek_certificate_malformed", "EK certificate does not parse as an EK certificate")
    public static let ekCertificateUntrusted = evidence(
        "ek_certificate_untrusted", "EK certificate does not chain to a trusted TPM manufacturer CA")
    public static let ekPublicMismatch = evidence(
        "ek_public_mismatch", "EK public area is not the EK template with the certificate's key")
    public static let akAttributes = evidence(
        "ak_attributes", "Attestation key lacks the required attributes or algorithm")
    public static let signingKeyAttributes = evidence(
        "signing_key_attributes", "Signing key lacks the required attributes or algorithm")
    public static let enrollmentTokenInvalid = evidence(
        "enrollment_token_invalid", "Enrollment token does not open under any registrar key")
    public static let enrollmentTokenExpired = evidence("enrollment_token_expired", "Enrollment token expired")
    public static let enrollmentTokenReplayed = evidence(
        "enrollment_token_replayed", "Enrollment token was already used")
    public static let activationProofInvalid = evidence(
        "activation_proof_invalid", "Proof of credential activation is wrong")
    public static let attestationSignatureInvalid = evidence(
        "attestation_signature_invalid", "Certify or quote is not signed by the attestation key")
    public static let certifyInvalid = evidence(
        "certify_invalid", "Certify is not of the signing key, or not bound to the challenge")
    public static let quoteInvalid = evidence(
        "quote_invalid", "Quote is not bound to the challenge, or its PCR digest differs from the PCR values")
    public static let platformNotAllowed = evidence(
        "platform_not_allowed", "Executable digest, kernel release or PCR value outside the platform policy")

    /// The registrar's reasons, in the order of its checks.
    public static let enrollment: [RejectionReason] = [
        .enrollmentMalformed, .enrollmentAgentMismatch, .enrollmentRateLimited, .ekCertificateMalformed,
        .ekCertificateUntrusted, .ekPublicMismatch, .akAttributes, .signingKeyAttributes, .enrollmentTokenInvalid,
        .enrollmentTokenExpired, .enrollmentTokenReplayed, .activationProofInvalid, .attestationSignatureInvalid,
        .certifyInvalid, .quoteInvalid, .platformNotAllowed,
    ]
}
