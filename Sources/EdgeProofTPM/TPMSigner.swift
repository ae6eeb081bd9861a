import Crypto
import EdgeProofCore

/// Signs envelopes with a key at a persistent handle of a ``TPMDevice``.
public struct TPMSigner: EnvelopeSigner {
    public let device: TPMDevice
    public let handle: PersistentHandle
    /// Read once when the signer is made: the JWS `alg` and `kid` come from it.
    public let publicKey: AgentPublicKey
    public let algorithm: SignatureAlgorithm
    public let publicKeyHash: PublicKeyHash
    /// Whether the key has `noDA`. A key without it (made before EdgeProof set it) is locked out by the
    /// TPM after a few unclean shutdowns; `edgeproof tpm provision --replace` makes a new one.
    public let lockoutExempt: Bool

    public init(device: TPMDevice, handle: PersistentHandle = .defaultSigningKey) async throws(TPMError) {
        self.device = device
        self.handle = handle
        (self.publicKey, self.lockoutExempt) = try await device.signingKeyDetails(at: handle)
        self.algorithm = publicKey.algorithm
        self.publicKeyHash = publicKey.hash
    }

    public func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8] {
        try await device.sign(digest: Array(digest), with: handle, algorithm: algorithm)
    }

    /// Runs `body` on the TPM's executor: its signatures are then plain calls on the thread that talks
    /// to the TPM. Child tasks `body` starts inherit the preference unless they name another executor.
    public func signingLoop<T: Sendable, Failure: Error>(
        _ body: @Sendable () async throws(Failure) -> T
    ) async throws(Failure) -> T {
        try await withTaskExecutorPreference(device.taskExecutor, operation: body)
    }
}
