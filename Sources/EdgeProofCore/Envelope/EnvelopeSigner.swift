import Crypto

/// Something that signs envelope digests: in the agent, always the TPM.
public protocol EnvelopeSigner: Sendable {
    var algorithm: SignatureAlgorithm { get }
    var publicKeyHash: PublicKeyHash { get }
    /// Signs a SHA-256 digest and returns the signature in JWS form (ES256: r‖s, 64 bytes;
    /// RS256: the PKCS#1 v1.5 signature).
    func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8]
    /// Runs `body`, a loop that signs many envelopes, where this signer's calls are cheapest (a TPM
    /// signer: on the TPM's own thread, so that each signature is a call rather than two thread hops).
    func signingLoop<T: Sendable, Failure: Error>(
        _ body: @Sendable () async throws(Failure) -> T
    ) async throws(Failure) -> T
}

extension EnvelopeSigner {
    /// Runs `body` where it is: a signer without a thread of its own.
    public func signingLoop<T: Sendable, Failure: Error>(
        _ body: @Sendable () async throws(Failure) -> T
    ) async throws(Failure) -> T {
        try await body()
    }
}
