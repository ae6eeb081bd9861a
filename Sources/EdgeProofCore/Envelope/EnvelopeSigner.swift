import Crypto

/// Something that signs envelope digests: in the agent, always the TPM.
public protocol EnvelopeSigner: Sendable {
    var algorithm: SignatureAlgorithm { get }
    var publicKeyHash: PublicKeyHash { get }
    /// Signs a SHA-256 digest and returns the signature in JWS form (ES256: r‖s, 64 bytes;
    /// RS256: the PKCS#1 v1.5 signature).
    func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8]
}
