import EdgeProofCore

/// The key types EdgeProof provisions in a TPM, named as on the command line.
public enum TPMKeyAlgorithm: String, CaseIterable, Sendable {
    /// ECC NIST P-256 with ECDSA/SHA-256: the default, and about five times faster to sign with.
    case eccP256 = "ecc-p256"
    /// RSA-2048 with RSASSA-PKCS1-v1_5/SHA-256, for TPMs or verifiers without ECC.
    case rsa2048 = "rsa-2048"

    /// The JWS `alg` of signatures made with such a key.
    public var signatureAlgorithm: SignatureAlgorithm {
        switch self {
        case .eccP256: .es256
        case .rsa2048: .rs256
        }
    }

    /// "ECC P-256", "RSA-2048": the same words as ``AgentPublicKey/keyDescription``.
    public var displayName: String {
        switch self {
        case .eccP256: "ECC P-256"
        case .rsa2048: "RSA-2048"
        }
    }
}
