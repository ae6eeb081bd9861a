internal import CTSS2

/// The templates of attested enrollment: the TCG endorsement key and EdgeProof's attestation key.
extension TPMPublic {
    /// The TCG EK Credential Profile's default RSA-2048 EK template (template L-1): restricted decrypt,
    /// fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy, AES-128-CFB, usable only through
    /// PolicySecret(TPM_RH_ENDORSEMENT). Its `unique` is 256 zero bytes: with an empty `unique` the TPM
    /// derives another key, whose public part matches no EK certificate.
    static var rsaEndorsementKeyTemplate: TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.type = TPM2_ALG_RSA
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes =
            TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN
            | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT
        template.publicArea.authPolicy.size = store(endorsementPolicy, in: &template.publicArea.authPolicy.buffer)
        template.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES
        template.publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128
        template.publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB
        template.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL
        template.publicArea.parameters.rsaDetail.keyBits = 2048
        template.publicArea.parameters.rsaDetail.exponent = 0
        let zeros = [UInt8](repeating: 0, count: 256)
        template.publicArea.unique.rsa.size = store(zeros, in: &template.publicArea.unique.rsa.buffer)
        return template
    }

    /// PolicySecret(TPM_RH_ENDORSEMENT) as a policy digest (TCG EK Credential Profile, 2.6.1).
    static let endorsementPolicy: [UInt8] = [
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
        0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA,
    ]

    /// What an EdgeProof attestation key carries: restricted signing that never leaves the TPM, empty
    /// authValue (hence noDA, as on the signing key).
    static let attestationKeyAttributes: UInt32 =
        TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
        | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT

    /// The attestation key (AK): an ECC P-256 restricted signing key with its scheme fixed to ECDSA-SHA256,
    /// so it signs only what the TPM itself produced (certify, quote), never an outside digest that could
    /// pass for one.
    static var attestationKeyTemplate: TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.type = TPM2_ALG_ECC
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes = attestationKeyAttributes
        template.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL
        template.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA
        template.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256
        template.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256
        template.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL
        return template
    }

    /// Whether this is what ``attestationKeyTemplate`` makes: the same type, curve, scheme and attributes.
    var isAttestationKey: Bool {
        guard case .ecc(let curve, _, _) = key, curve == TPM2_ECC_NIST_P256 else { return false }
        return attributes == Self.attestationKeyAttributes && scheme == TPM2_ALG_ECDSA && schemeHash == TPM2_ALG_SHA256
    }
}
