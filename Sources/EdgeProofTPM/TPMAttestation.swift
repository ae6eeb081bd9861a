import EdgeProofCore

/// An endorsement key certificate stored by the TPM's manufacturer in NV (TCG EK Credential Profile).
public struct TPMEndorsementCertificate: Sendable, Hashable {
    /// The profile's NV indices: RSA-2048 EK, ECC P-256 EK, ECC P-384 EK certificates.
    public static let rsa2048Index: UInt32 = 0x01C0_0002
    public static let eccP256Index: UInt32 = 0x01C0_000A
    public static let eccP384Index: UInt32 = 0x01C0_0016
    public static let indices: [UInt32] = [rsa2048Index, eccP256Index, eccP384Index]

    /// The NV index it was read from.
    public let index: UInt32
    /// The index's content: a DER X.509 certificate on swtpm; some hardware TPMs wrap it or pad it with
    /// trailing bytes, which the verifier must strip.
    public let der: [UInt8]

    public init(index: UInt32, der: [UInt8]) {
        self.index = index
        self.der = der
    }
}

/// A TPM object's public area as the TPM marshals it, and its name.
public struct TPMObjectPublic: Sendable, Hashable {
    /// TPM2B_PUBLIC: the two-byte size, then TPMT_PUBLIC.
    public let publicArea: [UInt8]
    /// The object's name: nameAlg (0x000B, SHA-256) then the SHA-256 of TPMT_PUBLIC.
    public let name: [UInt8]

    public init(publicArea: [UInt8], name: [UInt8]) {
        self.publicArea = publicArea
        self.name = name
    }
}

/// The RSA-2048 endorsement key, recreated from the TCG default template.
public struct TPMEndorsementKey: Sendable {
    public let object: TPMObjectPublic
    /// Its public key; ``AgentPublicKey/derRepresentation`` is the SubjectPublicKeyInfo an EK certificate
    /// holds, and ``AgentPublicKey/hash`` the EK public hash operators pin.
    public let publicKey: AgentPublicKey
    /// The RSA modulus, big-endian.
    public let modulus: [UInt8]
    /// The transient TPM handle (0x80…) it is loaded at, until ``TPMDevice/flushEndorsementKey()``.
    public let transientHandle: UInt32

    public init(object: TPMObjectPublic, publicKey: AgentPublicKey, modulus: [UInt8], transientHandle: UInt32) {
        self.object = object
        self.publicKey = publicKey
        self.modulus = modulus
        self.transientHandle = transientHandle
    }
}

/// The attestation key (AK) at a persistent handle, as ``TPMDevice/provisionAttestationKey(at:)`` found or
/// made it.
public struct TPMAttestationKey: Sendable {
    public let handle: PersistentHandle
    public let object: TPMObjectPublic
    /// Its ECC P-256 public key (the verifier of certify and quote signatures).
    public let publicKey: AgentPublicKey
    /// False when the handle already held an attestation key.
    public let created: Bool

    public init(handle: PersistentHandle, object: TPMObjectPublic, publicKey: AgentPublicKey, created: Bool) {
        self.handle = handle
        self.object = object
        self.publicKey = publicKey
        self.created = created
    }
}

/// What an attestation key signed: TPMS_ATTEST as the TPM produced it, and the TPMT_SIGNATURE over it.
public struct TPMAttestationEvidence: Sendable, Hashable {
    /// The TPMS_ATTEST bytes (TPM2B_ATTEST's buffer): the AK's signature covers exactly these.
    public let attest: [UInt8]
    /// TPMT_SIGNATURE marshalled: sigAlg, hashAlg, then r and s as TPM2B (ECDSA).
    public let signature: [UInt8]

    public init(attest: [UInt8], signature: [UInt8]) {
        self.attest = attest
        self.signature = signature
    }
}

/// One PCR of the SHA-256 bank and its value.
public struct TPMPCRValue: Sendable, Hashable {
    public let index: Int
    public let digest: [UInt8]

    public init(index: Int, digest: [UInt8]) {
        self.index = index
        self.digest = digest
    }
}

/// A quote and the PCR values it covers, read in the same selection (ascending index): the quote's
/// pcrDigest is the SHA-256 of their concatenation.
public struct TPMQuote: Sendable, Hashable {
    public let evidence: TPMAttestationEvidence
    public let pcrValues: [TPMPCRValue]

    public init(evidence: TPMAttestationEvidence, pcrValues: [TPMPCRValue]) {
        self.evidence = evidence
        self.pcrValues = pcrValues
    }
}
