import EdgeProofCore

/// The device side of attested enrollment: the endorsement key and its certificates, an attestation key
/// under it, credential activation, certify and quote.
///
/// The EK is a transient object (recreated from the TCG template, as the certificate describes it). Calls
/// that need it use the one ``endorsementKey()`` keeps loaded, or recreate it and flush it again: swtpm
/// and /dev/tpm0 have no resource manager, and a leaked transient object keeps one of the TPM's three or
/// so object slots until the TPM restarts.
extension TPMDevice {
    /// The EK certificates in the TCG EK credential profile's NV indices (RSA-2048, ECC P-256, ECC P-384),
    /// in that order; indices the TPM does not define are left out.
    public func endorsementCertificates() throws(TPMError) -> [TPMEndorsementCertificate] {
        try withContext { context throws(TPMError) in
            let defined = Set(try context.definedNVIndices(in: 0x01C0_0000...0x01C0_FFFF))
            var certificates = [TPMEndorsementCertificate]()
            for index in TPMEndorsementCertificate.indices where defined.contains(index) {
                certificates.append(TPMEndorsementCertificate(index: index, der: try context.readNV(index: index)))
            }
            return certificates
        }
    }

    /// Recreates the RSA-2048 EK from the TCG default template and keeps it loaded (at
    /// ``TPMEndorsementKey/transientHandle``) for the next calls, until ``flushEndorsementKey()``. Calling
    /// it again returns the loaded key.
    public func endorsementKey() throws(TPMError) -> TPMEndorsementKey {
        try withContext { context throws(TPMError) in
            let object = try loadEndorsementKey(in: context)
            let (bytes, name, area) = try context.marshalledPublic(object)
            guard case .rsa(_, _, let modulus) = area.key, let key = area.agentPublicKey else {
                throw .unexpectedResponse("the endorsement key is \(area.keyDescription), not an RSA key")
            }
            return TPMEndorsementKey(
                object: TPMObjectPublic(publicArea: bytes, name: name), publicKey: key, modulus: modulus,
                transientHandle: try context.tpmHandle(of: object))
        }
    }

    /// Unloads the EK that ``endorsementKey()`` kept loaded; nothing when none is.
    public func flushEndorsementKey() throws(TPMError) {
        guard let object = loadedEndorsementKey else { return }
        loadedEndorsementKey = nil
        try withContext { context throws(TPMError) in try context.flush(object) }
    }

    /// Makes sure `handle` holds an attestation key under this TPM's EK and returns it. Idempotent like
    /// ``provisionSigningKey(_:at:replace:)``: an attestation key already there is returned with
    /// `created == false`; anything else there is an error.
    ///
    /// The AK: ECC P-256, ECDSA-SHA256, fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA |
    /// restricted | sign, created under the EK (with a PolicySecret(endorsement) session), loaded, made
    /// persistent (owner auth empty); the transient EK and AK are flushed on every path.
    public func provisionAttestationKey(at handle: PersistentHandle) throws(TPMError) -> TPMAttestationKey {
        var created = false
        if try existingPublic(at: handle) == nil {
            try withContext { context throws(TPMError) in
                try withEndorsementKey(in: context) { endorsementKey throws(TPMError) in
                    let key = try context.createKey(
                        TPMPublic.attestationKeyTemplate, underEndorsementKey: endorsementKey)
                    defer { try? context.flush(key) }
                    let persistent = try context.makePersistent(key, at: handle)
                    context.close(persistent)
                }
            }
            created = true
        }
        return try withContext { context throws(TPMError) in
            let (bytes, name, area) = try context.marshalledPublic(try object(at: handle, in: context))
            guard area.isAttestationKey, let key = area.agentPublicKey else {
                throw .notAnAttestationKey(handle, holds: area.keyDescription, attributes: area.attributeNames)
            }
            return TPMAttestationKey(
                handle: handle, object: TPMObjectPublic(publicArea: bytes, name: name), publicKey: key,
                created: created)
        }
    }

    /// The public area and name of the object at `handle` (the signing key's, for the registrar).
    public func objectPublic(at handle: PersistentHandle) throws(TPMError) -> TPMObjectPublic {
        try withContext { context throws(TPMError) in
            let (bytes, name, _) = try context.marshalledPublic(try object(at: handle, in: context))
            return TPMObjectPublic(publicArea: bytes, name: name)
        }
    }

    /// TPM2_ActivateCredential with the attestation key at `attestationKey` and the EK: returns the secret
    /// a registrar's TPM2_MakeCredential sealed to the AK's name and the EK's public key. The TPM refuses
    /// (an integrity error) a credential made for another name or another EK.
    ///
    /// - Parameters:
    ///   - credentialBlob: TPM2B_ID_OBJECT's buffer (without its size): integrity HMAC, then encIdentity.
    ///   - encryptedSecret: TPM2B_ENCRYPTED_SECRET's buffer (without its size), the seed encrypted to the EK.
    public func activateCredential(
        _ credentialBlob: [UInt8], encryptedSecret: [UInt8], attestationKey: PersistentHandle
    ) throws(TPMError) -> [UInt8] {
        try withContext { context throws(TPMError) in
            let key = try object(at: attestationKey, in: context)
            return try withEndorsementKey(in: context) { endorsementKey throws(TPMError) in
                try context.activateCredential(
                    credentialBlob, secret: encryptedSecret, key: key, endorsementKey: endorsementKey)
            }
        }
    }

    /// TPM2_Certify: the attestation key at `attestationKey` vouches that the key at `object` lives in this
    /// TPM, with its name and `qualifyingData` (at most 64 bytes; the registrar's nonce) in the signed
    /// TPMS_ATTEST.
    public func certify(
        _ object: PersistentHandle, by attestationKey: PersistentHandle, qualifyingData: [UInt8]
    ) throws(TPMError) -> TPMAttestationEvidence {
        try withContext { context throws(TPMError) in
            let certified = try self.object(at: object, in: context)
            let signer = try self.object(at: attestationKey, in: context)
            let (attest, signature) = try context.certify(certified, by: signer, qualifyingData: qualifyingData)
            return TPMAttestationEvidence(attest: attest, signature: signature)
        }
    }

    /// TPM2_Quote of `pcrs` in the SHA-256 bank by the attestation key, with `qualifyingData` (at most 64
    /// bytes), and the PCR values (TPM2_PCR_Read of the same selection). Should a PCR be extended between
    /// the read and the quote (the TPM's PCR update counter moves), both are taken again, up to 3 times.
    public func quote(
        pcrs: [Int] = Array(0...7), by attestationKey: PersistentHandle, qualifyingData: [UInt8]
    ) throws(TPMError) -> TPMQuote {
        if let invalid = pcrs.first(where: { !(0..<24).contains($0) }) { throw .invalidPCR(invalid) }
        let selection = Array(Set(pcrs)).sorted()
        guard let first = selection.first else { throw .invalidPCR(-1) }
        return try withContext { context throws(TPMError) in
            let signer = try object(at: attestationKey, in: context)
            for _ in 0..<3 {
                let before: (values: [Int: [UInt8]], updateCounter: UInt32)
                do throws(TPMError) {
                    before = try context.readPCRs(selection)
                } catch where error.isPCRChange {
                    continue
                }
                let quoted = try context.quote(pcrs: selection, by: signer, qualifyingData: qualifyingData)
                guard try context.readPCRs([first]).updateCounter == before.updateCounter else { continue }
                let values = selection.compactMap { index in
                    before.values[index].map { TPMPCRValue(index: index, digest: $0) }
                }
                let evidence = TPMAttestationEvidence(attest: quoted.attest, signature: quoted.signature)
                return TPMQuote(evidence: evidence, pcrValues: values)
            }
            throw .pcrsChanged
        }
    }

    // MARK: - Internals

    private func loadEndorsementKey(in context: ESYSContext) throws(TPMError) -> ESYSContext.Object {
        if let loadedEndorsementKey { return loadedEndorsementKey }
        let object = try context.createPrimaryEndorsementKey(TPMPublic.rsaEndorsementKeyTemplate)
        loadedEndorsementKey = object
        return object
    }

    /// Runs `body` with the EK: the loaded one, or one recreated for `body` alone and flushed after it.
    private func withEndorsementKey<T>(
        in context: ESYSContext, _ body: (ESYSContext.Object) throws(TPMError) -> T
    ) throws(TPMError) -> T {
        if let loadedEndorsementKey { return try body(loadedEndorsementKey) }
        let object = try context.createPrimaryEndorsementKey(TPMPublic.rsaEndorsementKeyTemplate)
        defer { try? context.flush(object) }
        return try body(object)
    }
}
