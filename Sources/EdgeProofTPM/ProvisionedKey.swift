import EdgeProofCore

/// A signing key stored at a persistent handle, as ``TPMDevice/provisionSigningKey(_:at:)`` found or made it.
public struct ProvisionedKey: Sendable {
    public let publicKey: AgentPublicKey
    public let handle: PersistentHandle
    public let algorithm: TPMKeyAlgorithm
    /// False when the handle already held a suitable key.
    public let created: Bool

    public init(publicKey: AgentPublicKey, handle: PersistentHandle, algorithm: TPMKeyAlgorithm, created: Bool) {
        self.publicKey = publicKey
        self.handle = handle
        self.algorithm = algorithm
        self.created = created
    }
}
