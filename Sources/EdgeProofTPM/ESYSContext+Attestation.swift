internal import CTSS2

/// The ESAPI calls of attested enrollment: EK certificates from NV, the endorsement key, the attestation key
/// under it, credential activation, certify and quote. Returned structures are copied out as marshalled bytes.
extension ESYSContext {
    /// TPML_HANDLE's capacity (TPM2_MAX_CAP_HANDLES, a macro built from others that Swift does not import).
    private static let handleListCapacity = UInt32(
        MemoryLayout<TPML_HANDLE>.size - MemoryLayout<UInt32>.size) / UInt32(MemoryLayout<TPM2_HANDLE>.size)

    /// NV indices defined in `range` (TPM2_CAP_HANDLES), so that absent indices are never asked for.
    func definedNVIndices(in range: ClosedRange<UInt32>) throws(TPMError) -> [UInt32] {
        var moreData: TPMI_YES_NO = 0
        var capabilityData: UnsafeMutablePointer<TPMS_CAPABILITY_DATA>?
        defer { Esys_Free(capabilityData) }
        try check(
            Esys_GetCapability(
                context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, range.lowerBound,
                Self.handleListCapacity, &moreData, &capabilityData),
            "Esys_GetCapability (NV indices)")
        guard let list = capabilityData?.pointee.data.handles else {
            throw .unexpectedResponse("Esys_GetCapability returned no handle list")
        }
        return withUnsafeBytes(of: list.handle) { raw in
            Array(raw.bindMemory(to: TPM2_HANDLE.self).prefix(Int(min(list.count, Self.handleListCapacity))))
        }.filter { range.contains($0) }
    }

    /// The whole content of an NV index, in chunks every TPM accepts (TPM2_PT_NV_BUFFER_MAX is at least 512
    /// on the TPMs we know). Read with the index's own (empty) authorization when it allows that (AUTHREAD,
    /// as swtpm sets it), else with the owner's (OWNERREAD, empty owner auth assumed as for provisioning).
    func readNV(index: UInt32) throws(TPMError) -> [UInt8] {
        var object = ESYS_TR_NONE
        try check(
            Esys_TR_FromTPMPublic(context, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &object),
            "Esys_TR_FromTPMPublic (NV index \(hex(index)))")
        defer { close(Object(rawValue: object)) }
        var nvPublic: UnsafeMutablePointer<TPM2B_NV_PUBLIC>?
        var nvName: UnsafeMutablePointer<TPM2B_NAME>?
        defer {
            Esys_Free(nvPublic)
            Esys_Free(nvName)
        }
        try check(
            Esys_NV_ReadPublic(context, object, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvPublic, &nvName),
            "Esys_NV_ReadPublic (\(hex(index)))")
        guard let area = nvPublic?.pointee.nvPublic else {
            throw .unexpectedResponse("Esys_NV_ReadPublic returned no public area")
        }
        let size = area.dataSize
        let reader = area.attributes & TPMA_NV_AUTHREAD == 0 && area.attributes & TPMA_NV_OWNERREAD != 0
            ? ESYS_TR_RH_OWNER : object
        var content = [UInt8]()
        content.reserveCapacity(Int(size))
        while content.count < Int(size) {
            let chunk = UInt16(min(512, Int(size) - content.count))
            var data: UnsafeMutablePointer<TPM2B_MAX_NV_BUFFER>?
            defer { Esys_Free(data) }
            try check(
                Esys_NV_Read(
                    context, reader, object, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk, UInt16(content.count),
                    &data),
                "Esys_NV_Read (\(hex(index)), offset \(content.count))")
            guard let data, data.pointee.size > 0 else { throw .unexpectedResponse("Esys_NV_Read returned no data") }
            content += bytes(of: data.pointee.buffer, count: data.pointee.size)
        }
        return content
    }

    /// The endorsement hierarchy's primary key from `template` (endorsement auth empty), transient: flush it.
    func createPrimaryEndorsementKey(_ template: TPM2B_PUBLIC) throws(TPMError) -> Object {
        try createPrimary(template, in: ESYS_TR_RH_ENDORSEMENT, "endorsement key")
    }

    /// The TPM handle (0x80…) of a loaded object.
    func tpmHandle(of object: Object) throws(TPMError) -> UInt32 {
        var handle: TPM2_HANDLE = 0
        try check(Esys_TR_GetTpmHandle(context, object.rawValue, &handle), "Esys_TR_GetTpmHandle")
        return handle
    }

    /// An object's public area as TPM2B_PUBLIC bytes (size prefix included), its name, and the decoded area.
    func marshalledPublic(_ object: Object) throws(TPMError) -> (bytes: [UInt8], name: [UInt8], area: TPMPublic) {
        var outPublic: UnsafeMutablePointer<TPM2B_PUBLIC>?
        var name: UnsafeMutablePointer<TPM2B_NAME>?
        var qualifiedName: UnsafeMutablePointer<TPM2B_NAME>?
        defer {
            Esys_Free(outPublic)
            Esys_Free(name)
            Esys_Free(qualifiedName)
        }
        try check(
            Esys_ReadPublic(
                context, object.rawValue, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &outPublic, &name, &qualifiedName),
            "Esys_ReadPublic")
        guard let outPublic, let name else { throw .unexpectedResponse("Esys_ReadPublic returned no public area") }
        var buffer = [UInt8](repeating: 0, count: MemoryLayout<TPM2B_PUBLIC>.size)
        var offset = 0
        try check(
            Tss2_MU_TPM2B_PUBLIC_Marshal(outPublic, &buffer, buffer.count, &offset), "Tss2_MU_TPM2B_PUBLIC_Marshal")
        return (
            Array(buffer.prefix(offset)), bytes(of: name.pointee.name, count: name.pointee.size),
            TPMPublic(outPublic.pointee.publicArea)
        )
    }

    /// A policy session satisfied by PolicySecret(TPM_RH_ENDORSEMENT): what the TCG EK template's authPolicy
    /// asks for before the EK may be used (as a parent, for ActivateCredential). It stays open after the
    /// command (continueSession) so that every path can flush it.
    func endorsementPolicySession() throws(TPMError) -> Object {
        var symmetric = TPMT_SYM_DEF()
        symmetric.algorithm = TPM2_ALG_NULL
        var session = ESYS_TR_NONE
        try check(
            Esys_StartAuthSession(
                context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nil, TPM2_SE_POLICY,
                &symmetric, TPM2_ALG_SHA256, &session),
            "Esys_StartAuthSession (policy)")
        do throws(TPMError) {
            try check(
                Esys_TRSess_SetAttributes(
                    context, session, TPMA_SESSION_CONTINUESESSION, TPMA_SESSION_CONTINUESESSION),
                "Esys_TRSess_SetAttributes")
            var timeout: UnsafeMutablePointer<TPM2B_TIMEOUT>?
            var ticket: UnsafeMutablePointer<TPMT_TK_AUTH>?
            defer {
                Esys_Free(timeout)
                Esys_Free(ticket)
            }
            try check(
                Esys_PolicySecret(
                    context, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nil, nil,
                    nil, 0, &timeout, &ticket),
                "Esys_PolicySecret (endorsement)")
        } catch {
            try? flush(Object(rawValue: session))
            throw error
        }
        return Object(rawValue: session)
    }

    /// Creates a key from `template` under the EK `parent` (a PolicySecret(endorsement) session for each
    /// use of it) and loads it as a transient object: flush it.
    func createKey(_ template: TPM2B_PUBLIC, underEndorsementKey parent: Object) throws(TPMError) -> Object {
        try createKey(template, parent: parent, "attestation key under the EK") { () throws(TPMError) in
            try endorsementPolicySession()
        }
    }

    /// TPM2_ActivateCredential: `credentialBlob` (TPM2B_ID_OBJECT's buffer) and `secret`
    /// (TPM2B_ENCRYPTED_SECRET's buffer) as TPM2_MakeCredential produced them for `key`'s name and
    /// `endorsementKey`'s public key; returns the credential (the secret).
    func activateCredential(
        _ credentialBlob: [UInt8], secret: [UInt8], key: Object, endorsementKey: Object
    ) throws(TPMError) -> [UInt8] {
        var blob = TPM2B_ID_OBJECT()
        var encrypted = TPM2B_ENCRYPTED_SECRET()
        guard credentialBlob.count <= MemoryLayout.size(ofValue: blob.credential),
            secret.count <= MemoryLayout.size(ofValue: encrypted.secret)
        else {
            throw .unexpectedResponse(
                "credential blob (\(credentialBlob.count) bytes) or encrypted secret (\(secret.count)) too large")
        }
        blob.size = store(credentialBlob, in: &blob.credential)
        encrypted.size = store(secret, in: &encrypted.secret)
        let session = try endorsementPolicySession()
        defer { try? flush(session) }
        var certInfo: UnsafeMutablePointer<TPM2B_DIGEST>?
        defer { Esys_Free(certInfo) }
        try check(
            Esys_ActivateCredential(
                context, key.rawValue, endorsementKey.rawValue, ESYS_TR_PASSWORD, session.rawValue, ESYS_TR_NONE,
                &blob, &encrypted, &certInfo),
            "Esys_ActivateCredential")
        guard let certInfo else { throw .unexpectedResponse("Esys_ActivateCredential returned no credential") }
        return bytes(of: certInfo.pointee.buffer, count: certInfo.pointee.size)
    }

    /// TPM2_Certify of `object` by `signer` with the signer's own scheme: the TPMS_ATTEST bytes it signed
    /// and the TPMT_SIGNATURE marshalled.
    func certify(_ object: Object, by signer: Object, qualifyingData: [UInt8]) throws(TPMError)
        -> (attest: [UInt8], signature: [UInt8])
    {
        try signedAttestation("Esys_Certify", qualifyingData) { data, scheme, attest, signature in
            Esys_Certify(
                context, object.rawValue, signer.rawValue, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, data,
                scheme, attest, signature)
        }
    }

    /// TPM2_Quote of the SHA-256 PCRs `pcrs` by `signer`: the TPMS_ATTEST bytes and TPMT_SIGNATURE marshalled.
    func quote(pcrs: [Int], by signer: Object, qualifyingData: [UInt8]) throws(TPMError)
        -> (attest: [UInt8], signature: [UInt8])
    {
        var selection = Self.sha256Selection(pcrs)
        return try signedAttestation("Esys_Quote", qualifyingData) { data, scheme, attest, signature in
            Esys_Quote(
                context, signer.rawValue, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, data, scheme, &selection,
                attest, signature)
        }
    }

    /// Runs a command that returns a TPM2B_ATTEST and its TPMT_SIGNATURE (certify, quote), with
    /// `qualifyingData` and the signing key's own scheme, and copies both out.
    private func signedAttestation(
        _ operation: String, _ qualifyingData: [UInt8],
        _ call: (
            UnsafePointer<TPM2B_DATA>, UnsafePointer<TPMT_SIG_SCHEME>,
            UnsafeMutablePointer<UnsafeMutablePointer<TPM2B_ATTEST>?>,
            UnsafeMutablePointer<UnsafeMutablePointer<TPMT_SIGNATURE>?>
        ) -> TSS2_RC
    ) throws(TPMError) -> (attest: [UInt8], signature: [UInt8]) {
        var data = try Self.qualifyingData(qualifyingData)
        var scheme = TPMT_SIG_SCHEME()
        scheme.scheme = TPM2_ALG_NULL
        var attest: UnsafeMutablePointer<TPM2B_ATTEST>?
        var signature: UnsafeMutablePointer<TPMT_SIGNATURE>?
        defer {
            Esys_Free(attest)
            Esys_Free(signature)
        }
        try check(call(&data, &scheme, &attest, &signature), operation)
        guard let attest, let signature else { throw .unexpectedResponse("\(operation) returned no attestation") }
        return (bytes(of: attest.pointee.attestationData, count: attest.pointee.size), try Self.marshal(signature))
    }

    /// The SHA-256 bank's values of `pcrs` and the TPM's PCR update counter. PCR_Read answers at most eight
    /// digests a call, so it is asked again for what it left out.
    func readPCRs(_ pcrs: [Int]) throws(TPMError) -> (values: [Int: [UInt8]], updateCounter: UInt32) {
        var values: [Int: [UInt8]] = [:]
        var counter: UInt32?
        while values.count < pcrs.count {
            var selection = Self.sha256Selection(pcrs.filter { values[$0] == nil })
            var updateCounter: UInt32 = 0
            var selectionOut: UnsafeMutablePointer<TPML_PCR_SELECTION>?
            var digests: UnsafeMutablePointer<TPML_DIGEST>?
            defer {
                Esys_Free(selectionOut)
                Esys_Free(digests)
            }
            try check(
                Esys_PCR_Read(
                    context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &selection, &updateCounter, &selectionOut,
                    &digests),
                "Esys_PCR_Read")
            if let counter, counter != updateCounter { throw .pcrsChanged }
            counter = updateCounter
            guard let selectionOut, let digests, selectionOut.pointee.count >= 1 else {
                throw .unexpectedResponse("Esys_PCR_Read returned no values")
            }
            let returned = Self.indices(of: selectionOut.pointee.pcrSelections.0)
            let list = withUnsafeBytes(of: digests.pointee.digests) { raw in
                Array(raw.bindMemory(to: TPM2B_DIGEST.self).prefix(Int(min(digests.pointee.count, 8))))
            }
            guard !returned.isEmpty, returned.count == list.count else {
                throw .unexpectedResponse("Esys_PCR_Read returned \(list.count) digests for \(returned.count) PCRs")
            }
            for (index, digest) in zip(returned, list) { values[index] = bytes(of: digest.buffer, count: digest.size) }
        }
        return (values, counter ?? 0)
    }

    private static func qualifyingData(_ data: [UInt8]) throws(TPMError) -> TPM2B_DATA {
        var value = TPM2B_DATA()
        guard data.count <= MemoryLayout.size(ofValue: value.buffer) else {
            throw .qualifyingDataTooLong(data.count, maximum: MemoryLayout.size(ofValue: value.buffer))
        }
        value.size = store(data, in: &value.buffer)
        return value
    }

    private static func marshal(_ signature: UnsafeMutablePointer<TPMT_SIGNATURE>) throws(TPMError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: MemoryLayout<TPMT_SIGNATURE>.size)
        var offset = 0
        try check(
            Tss2_MU_TPMT_SIGNATURE_Marshal(signature, &buffer, buffer.count, &offset), "Tss2_MU_TPMT_SIGNATURE_Marshal")
        return Array(buffer.prefix(offset))
    }

    /// One selection in the SHA-256 bank (three bytes of bitmap: PCRs 0–23).
    private static func sha256Selection(_ pcrs: [Int]) -> TPML_PCR_SELECTION {
        var selection = TPML_PCR_SELECTION()
        selection.count = 1
        selection.pcrSelections.0.hash = TPM2_ALG_SHA256
        selection.pcrSelections.0.sizeofSelect = 3
        withUnsafeMutableBytes(of: &selection.pcrSelections.0.pcrSelect) { bitmap in
            for pcr in pcrs where (0..<24).contains(pcr) { bitmap[pcr / 8] |= UInt8(1 << (pcr % 8)) }
        }
        return selection
    }

    private static func indices(of selection: TPMS_PCR_SELECTION) -> [Int] {
        withUnsafeBytes(of: selection.pcrSelect) { bitmap in
            (0..<Int(min(selection.sizeofSelect, UInt8(bitmap.count))) * 8).filter {
                bitmap[$0 / 8] & UInt8(1 << ($0 % 8)) != 0
            }
        }
    }
}
