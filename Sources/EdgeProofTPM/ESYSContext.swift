internal import CTSS2
import EdgeProofCore

/// One ESAPI context (`ESYS_CONTEXT`) and the TCTI (`TSS2_TCTI_CONTEXT`) it talks through: one connection
/// to one TPM. Not thread-safe; ``TPMDevice`` confines it.
final class ESYSContext {
    /// An ESAPI object handle (`ESYS_TR`): this context's reference to a TPM object.
    struct Object: Hashable, Sendable {
        let rawValue: ESYS_TR
    }

    let context: OpaquePointer  // ESYS_CONTEXT * (internal: the attestation calls live in an extension file)
    private let tcti: OpaquePointer  // TSS2_TCTI_CONTEXT *

    private init(takingOwnershipOf context: OpaquePointer, tcti: OpaquePointer) {
        self.context = context
        self.tcti = tcti
    }

    deinit {
        var context: OpaquePointer? = context
        Esys_Finalize(&context)
        var tcti: OpaquePointer? = tcti
        Tss2_TctiLdr_Finalize(&tcti)
    }

    /// Loads the TCTI named by `tcti` ("swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0"; empty: the
    /// library's default search) and opens an ESAPI context on it.
    static func connect(tcti configuration: String) throws(TPMError) -> ESYSContext {
        var tcti: OpaquePointer?
        let name: String? = configuration.isEmpty ? nil : configuration
        try check(Tss2_TctiLdr_Initialize(name, &tcti), "opening TCTI \"\(configuration)\" (Tss2_TctiLdr_Initialize)")
        guard let tctiContext = tcti else { throw .unexpectedResponse("Tss2_TctiLdr_Initialize returned no context") }
        var context: OpaquePointer?
        let rc = Esys_Initialize(&context, tctiContext, nil)
        guard rc == TSS2_RC_SUCCESS, let context else {
            Tss2_TctiLdr_Finalize(&tcti)
            try check(rc, "Esys_Initialize on TCTI \"\(configuration)\"")
            throw .unexpectedResponse("Esys_Initialize returned no context")
        }
        return ESYSContext(takingOwnershipOf: context, tcti: tctiContext)
    }

    /// Whether a persistent object is stored at `handle`. Asking first keeps the normal "nothing there yet"
    /// case out of ESAPI, which logs every failed command to stderr.
    func isPersistentHandleOccupied(_ handle: PersistentHandle) throws(TPMError) -> Bool {
        var moreData: TPMI_YES_NO = 0
        var capabilityData: UnsafeMutablePointer<TPMS_CAPABILITY_DATA>?
        defer { Esys_Free(capabilityData) }
        // The TPM lists persistent handles from `handle` upwards; one entry is enough.
        try check(
            Esys_GetCapability(
                context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, handle.rawValue, 1, &moreData,
                &capabilityData),
            "Esys_GetCapability (persistent handles)")
        guard let handles = capabilityData?.pointee.data.handles else {
            throw .unexpectedResponse("Esys_GetCapability returned no handle list")
        }
        return handles.count > 0 && handles.handle.0 == handle.rawValue
    }

    /// TPM properties (TPM2_CAP_TPM_PROPERTIES) from `first` on, at most `count`, by tag.
    func properties(from first: UInt32, count: UInt32) throws(TPMError) -> [UInt32: UInt32] {
        var moreData: TPMI_YES_NO = 0
        var capabilityData: UnsafeMutablePointer<TPMS_CAPABILITY_DATA>?
        defer { Esys_Free(capabilityData) }
        try check(
            Esys_GetCapability(
                context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, first, count, &moreData,
                &capabilityData),
            "Esys_GetCapability (TPM properties)")
        guard let list = capabilityData?.pointee.data.tpmProperties else {
            throw .unexpectedResponse("Esys_GetCapability returned no property list")
        }
        var properties: [UInt32: UInt32] = [:]
        withUnsafeBytes(of: list.tpmProperty) { raw in
            let tagged = raw.bindMemory(to: TPMS_TAGGED_PROPERTY.self)
            for property in tagged.prefix(Int(min(list.count, UInt32(tagged.count)))) {
                properties[property.property] = property.value
            }
        }
        return properties
    }

    /// The dictionary-attack counters and whether the TPM is in lockout.
    func dictionaryAttackStatus() throws(TPMError) -> TPMDictionaryAttackStatus {
        let first = CTSS2_PT_PERMANENT()
        let values = try properties(from: first, count: CTSS2_PT_LOCKOUT_RECOVERY() - first + 1)
        return TPMDictionaryAttackStatus(
            failures: values[CTSS2_PT_LOCKOUT_COUNTER()] ?? 0, maximumFailures: values[CTSS2_PT_MAX_AUTH_FAIL()] ?? 0,
            lockoutInterval: values[CTSS2_PT_LOCKOUT_INTERVAL()] ?? 0,
            lockoutRecovery: values[CTSS2_PT_LOCKOUT_RECOVERY()] ?? 0,
            inLockout: (values[first] ?? 0) & TPMA_PERMANENT_INLOCKOUT != 0)
    }

    /// An ESAPI handle for the object at a persistent TPM handle; fails with TPM_RC_HANDLE if none is there.
    func persistentObject(at handle: PersistentHandle) throws(TPMError) -> Object {
        var object = ESYS_TR_NONE
        try check(
            Esys_TR_FromTPMPublic(context, handle.rawValue, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &object),
            "Esys_TR_FromTPMPublic (\(handle))")
        return Object(rawValue: object)
    }

    /// Releases this context's reference to an object without touching the TPM.
    func close(_ object: Object) {
        var handle = object.rawValue
        // Only fails for a handle this context does not know, which cannot happen here.
        _ = Esys_TR_Close(context, &handle)
    }

    func readPublic(_ object: Object) throws(TPMError) -> TPMPublic {
        try marshalledPublic(object).area
    }

    /// The owner hierarchy's ECC P-256 storage primary key, loaded as a transient object: flush it.
    func createPrimaryStorageKey() throws(TPMError) -> Object {
        // The owner hierarchy's auth is assumed empty: ESYS_TR_PASSWORD with the default empty value.
        try createPrimary(TPMPublic.storageKeyTemplate, in: ESYS_TR_RH_OWNER, "owner hierarchy storage key")
    }

    /// Creates a primary key from `template` in `hierarchy` (its auth empty) as a transient object: flush it.
    func createPrimary(_ template: TPM2B_PUBLIC, in hierarchy: ESYS_TR, _ what: String) throws(TPMError) -> Object {
        var sensitive = TPM2B_SENSITIVE_CREATE()
        var template = template
        var outsideInfo = TPM2B_DATA()
        var creationPCR = TPML_PCR_SELECTION()
        var primary = ESYS_TR_NONE
        try check(
            Esys_CreatePrimary(
                context, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &template,
                &outsideInfo, &creationPCR, &primary, nil, nil, nil, nil),
            "Esys_CreatePrimary (\(what))")
        return Object(rawValue: primary)
    }

    /// Creates a sign-only child key of `parent` and loads it as a transient object: flush it.
    func createSigningKey(_ algorithm: TPMKeyAlgorithm, parent: Object) throws(TPMError) -> Object {
        try createKey(TPMPublic.signingKeyTemplate(algorithm), parent: parent, "\(algorithm.displayName) signing key")
    }

    /// Creates a child key of `parent` from `template` and loads it as a transient object: flush it.
    /// `parentSession` authorizes each use of the parent (nil: its empty password); each session it returns
    /// is flushed after its one command.
    func createKey(
        _ template: TPM2B_PUBLIC, parent: Object, _ what: String,
        parentSession: () throws(TPMError) -> Object? = { nil }
    ) throws(TPMError) -> Object {
        var sensitive = TPM2B_SENSITIVE_CREATE()
        var template = template
        var outsideInfo = TPM2B_DATA()
        var creationPCR = TPML_PCR_SELECTION()
        var outPrivate: UnsafeMutablePointer<TPM2B_PRIVATE>?
        var outPublic: UnsafeMutablePointer<TPM2B_PUBLIC>?
        defer {
            Esys_Free(outPrivate)
            Esys_Free(outPublic)
        }
        let createSession = try parentSession()
        defer { if let createSession { try? flush(createSession) } }
        try check(
            Esys_Create(
                context, parent.rawValue, createSession?.rawValue ?? ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                &sensitive, &template, &outsideInfo, &creationPCR, &outPrivate, &outPublic, nil, nil, nil),
            "Esys_Create (\(what))")
        guard let outPrivate, let outPublic else { throw .unexpectedResponse("Esys_Create returned no key") }
        // A policy session is spent by the command it authorized, so Load gets a session of its own.
        let loadSession = try parentSession()
        defer { if let loadSession { try? flush(loadSession) } }
        var key = ESYS_TR_NONE
        try check(
            Esys_Load(
                context, parent.rawValue, loadSession?.rawValue ?? ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                outPrivate, outPublic, &key),
            "Esys_Load (\(what))")
        return Object(rawValue: key)
    }

    /// Copies a loaded key to a persistent handle (owner authorization) and returns the persistent object.
    func makePersistent(_ object: Object, at handle: PersistentHandle) throws(TPMError) -> Object {
        var persistent = ESYS_TR_NONE
        try check(
            Esys_EvictControl(
                context, ESYS_TR_RH_OWNER, object.rawValue, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                handle.rawValue, &persistent),
            "Esys_EvictControl (\(handle))")
        return Object(rawValue: persistent)
    }

    /// Removes the persistent object `object` at `handle` from the TPM's NV (owner authorization). The
    /// object's ESAPI handle is released too.
    func evict(_ object: Object, at handle: PersistentHandle) throws(TPMError) {
        var none = ESYS_TR_NONE
        try check(
            Esys_EvictControl(
                context, ESYS_TR_RH_OWNER, object.rawValue, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                handle.rawValue, &none),
            "Esys_EvictControl (evicting \(handle))")
        close(object)
    }

    /// Unloads a transient object. Without a resource manager (swtpm, /dev/tpm0) a leaked object keeps one
    /// of the TPM's three or so object slots until the TPM restarts.
    func flush(_ object: Object) throws(TPMError) {
        try check(Esys_FlushContext(context, object.rawValue), "Esys_FlushContext")
    }

    /// Signs a SHA-256 digest and returns the signature in JWS form: r‖s (each 32 bytes) for ES256, the
    /// PKCS#1 v1.5 signature for RS256.
    func sign(digest: [UInt8], with key: Object, algorithm: SignatureAlgorithm) throws(TPMError) -> [UInt8] {
        var tpmDigest = TPM2B_DIGEST()
        tpmDigest.size = store(digest, in: &tpmDigest.buffer)
        var scheme = TPMT_SIG_SCHEME()
        switch algorithm {
        case .es256:
            scheme.scheme = TPM2_ALG_ECDSA
            scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256
        case .rs256:
            scheme.scheme = TPM2_ALG_RSASSA
            scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256
        }
        // A NULL ticket: the TPM did not hash the data itself, which only unrestricted keys accept.
        var validation = TPMT_TK_HASHCHECK()
        validation.tag = TPM2_ST_HASHCHECK
        validation.hierarchy = TPM2_RH_NULL
        var signature: UnsafeMutablePointer<TPMT_SIGNATURE>?
        defer { Esys_Free(signature) }
        try check(
            Esys_Sign(
                context, key.rawValue, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &tpmDigest, &scheme,
                &validation, &signature),
            "Esys_Sign")
        guard let signature else { throw .unexpectedResponse("Esys_Sign returned no signature") }
        return try Self.jwsSignature(signature.pointee, algorithm)
    }

    private static func jwsSignature(_ signature: TPMT_SIGNATURE, _ algorithm: SignatureAlgorithm)
        throws(TPMError) -> [UInt8]
    {
        switch algorithm {
        case .es256:
            let ecdsa = signature.signature.ecdsa
            guard signature.sigAlg == TPM2_ALG_ECDSA, ecdsa.signatureR.size <= 32, ecdsa.signatureS.size <= 32 else {
                let scheme = String(signature.sigAlg, radix: 16)
                throw .unexpectedResponse("not an ECDSA P-256 signature (scheme 0x\(scheme))")
            }
            let r = bytes(of: ecdsa.signatureR.buffer, count: ecdsa.signatureR.size)
            let s = bytes(of: ecdsa.signatureS.buffer, count: ecdsa.signatureS.size)
            // JWS wants fixed-width integers; the TPM may drop leading zero bytes.
            return [UInt8](repeating: 0, count: 32 - r.count) + r + [UInt8](repeating: 0, count: 32 - s.count) + s
        case .rs256:
            guard signature.sigAlg == TPM2_ALG_RSASSA else {
                throw .unexpectedResponse("not an RSASSA signature (scheme 0x\(String(signature.sigAlg, radix: 16)))")
            }
            return bytes(of: signature.signature.rsassa.sig.buffer, count: signature.signature.rsassa.sig.size)
        }
    }
}
