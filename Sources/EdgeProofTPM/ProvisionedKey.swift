import EdgeProofCore

/// A signing key stored at a persistent handle, as ``TPMDevice/provisionSigningKey(_:at:replace:)`` found or
/// made it.
public struct ProvisionedKey: Sendable {
    /// What a `replace` provisioning evicted.
    public struct Replaced: Sendable {
        /// "an ECC P-256 key".
        public let description: String
        /// Its TPMA_OBJECT attributes as tpm2-tools names them.
        public let attributes: String
        /// Its tpm_public_key_hash, when it was a key EdgeProof can read.
        public let publicKeyHash: PublicKeyHash?
        /// Why it could not stay.
        public let reason: String

        public init(description: String, attributes: String, publicKeyHash: PublicKeyHash?, reason: String) {
            self.description = description
            self.attributes = attributes
            self.publicKeyHash = publicKeyHash
            self.reason = reason
        }
    }

    public let publicKey: AgentPublicKey
    public let handle: PersistentHandle
    public let algorithm: TPMKeyAlgorithm
    /// False when the handle already held a suitable key.
    public let created: Bool
    /// The object this key replaced, if any.
    public let replaced: Replaced?

    public init(
        publicKey: AgentPublicKey, handle: PersistentHandle, algorithm: TPMKeyAlgorithm, created: Bool,
        replaced: Replaced? = nil
    ) {
        self.publicKey = publicKey
        self.handle = handle
        self.algorithm = algorithm
        self.created = created
        self.replaced = replaced
    }
}
