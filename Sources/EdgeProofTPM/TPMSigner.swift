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

    public init(device: TPMDevice, handle: PersistentHandle = .defaultSigningKey) async throws(TPMError) {
        self.device = device
        self.handle = handle
        self.publicKey = try await device.publicKey(at: handle)
        self.algorithm = publicKey.algorithm
        self.publicKeyHash = publicKey.hash
    }

    /// Where a task that signs in a loop should run: see ``TPMDevice/taskExecutor``.
    public var taskExecutor: any TaskExecutor { device.taskExecutor }

    public func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8] {
        try await device.sign(digest: Array(digest), with: handle, algorithm: algorithm)
    }
}
