internal import CTSS2

/// A TPM operation failed: a TSS call returned an error, a handle was unusable, or the TPM answered
/// with something this code does not expect.
public struct TPMError: Error, Sendable, CustomStringConvertible {
    private enum Kind: Sendable {
        case call(operation: String, code: UInt32, text: String)
        case invalidHandle(String)
        case handleOutOfRange(UInt32)
        case emptyHandle(PersistentHandle)
        case occupiedHandle(PersistentHandle, holds: String, wanted: String)
        case notSignOnly(PersistentHandle, holds: String, attributes: String)
        case unsupportedKey(PersistentHandle, String)
        case invalidDigest(Int)
        case unexpectedResponse(String)
        case withoutNoDA(PersistentHandle, holds: String)
        case lockout(operation: String, status: TPMDictionaryAttackStatus?, keyIsExempt: Bool)
        case unavailable(tcti: String, cause: String, retryIn: Duration)
        case notAnAttestationKey(PersistentHandle, holds: String, attributes: String)
        case qualifyingDataTooLong(Int, maximum: Int)
        case invalidPCR(Int)
        case pcrsChanged
    }

    private let kind: Kind

    /// The TSS2 return code, when a TSS call failed.
    public var code: UInt32? {
        if case .call(_, let code, _) = kind { return code }
        return nil
    }

    /// The TPM refused a DA-protected key because it is in dictionary-attack lockout (TPM_RC_LOCKOUT).
    public var isLockout: Bool {
        if case .lockout = kind { return true }
        return code == CTSS2_RC_LOCKOUT()
    }

    /// The TPM could not be reached (its connection failed and a new one is not open yet).
    public var isUnavailable: Bool {
        if case .unavailable = kind { return true }
        return false
    }

    /// When the TPM is worth asking again: after the lockout recovery time or the reconnect backoff.
    public var retryAfter: Duration? {
        switch kind {
        case .lockout(_, let status?, _): status.recoveryTime
        case .unavailable(_, _, let retryIn): retryIn
        default: nil
        }
    }

    public var description: String {
        switch kind {
        case .call(let operation, let code, let text):
            "\(operation) failed: \(hex(code)) \(text)"
        case .invalidHandle(let text):
            "invalid persistent handle \"\(text.prefix(32))\"; expected hex such as 0x81020010"
        case .handleOutOfRange(let value):
            "handle \(hex(value)) is outside the owner's persistent range 0x81000000–0x817FFFFF"
        case .emptyHandle(let handle):
            "handle \(handle) holds no key; provision one with `edgeproof tpm provision --handle \(handle)`"
        case .occupiedHandle(let handle, let holds, let wanted):
            "handle \(handle) holds \(holds), not \(wanted); use another handle or evict it"
        case .notSignOnly(let handle, let holds, let attributes):
            "handle \(handle) holds \(holds) that is not a sign-only key (attributes \(attributes));"
                + " use another handle or evict it"
        case .unsupportedKey(let handle, let what):
            "handle \(handle) holds \(what), which EdgeProof cannot use"
        case .invalidDigest(let count):
            "a SHA-256 digest has 32 bytes, got \(count)"
        case .unexpectedResponse(let what):
            "unexpected response from the TPM: \(what)"
        case .withoutNoDA(let handle, let holds):
            "handle \(handle) holds \(holds) without noDA: the TPM's dictionary-attack protection counts every"
                + " unclean shutdown (power loss) after a signature as a failure and, after a few, refuses the key"
                + " with TPM_RC_LOCKOUT for a long time. A key's attributes cannot change: replace it with"
                + " `edgeproof tpm provision --replace --handle \(handle)` (a new key and tpm_public_key_hash;"
                + " update its allowlist entry)"
        case .lockout(let operation, let status, let keyIsExempt):
            Self.lockoutDescription(operation, status, keyIsExempt: keyIsExempt)
        case .unavailable(let tcti, let cause, let retryIn):
            "the TPM at \"\(tcti)\" is unavailable (\(cause)); reconnecting in \(Self.seconds(retryIn))"
        case .notAnAttestationKey(let handle, let holds, let attributes):
            "handle \(handle) holds \(holds) with attributes \(attributes), not an EdgeProof attestation key (ECC"
                + " P-256, ECDSA-SHA256, fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign);"
                + " use another handle or evict it"
        case .qualifyingDataTooLong(let count, let maximum):
            "qualifying data has \(count) bytes; a TPM takes at most \(maximum)"
        case .invalidPCR(let index):
            index < 0 ? "no PCR selected" : "PCR \(index) does not exist; a TPM's SHA-256 bank has PCRs 0-23"
        case .pcrsChanged:
            "the PCRs changed while they were being read and quoted, three times in a row"
        }
    }

    private static func lockoutDescription(_ operation: String, _ status: TPMDictionaryAttackStatus?, keyIsExempt: Bool)
        -> String
    {
        var text = "\(operation) failed: the TPM is in dictionary-attack lockout (TPM_RC_LOCKOUT 0x921)"
        if let status {
            text += " with \(status.failures) of \(status.maximumFailures) failures counted; it leaves the lockout"
                + " by itself after about \(seconds(status.recoveryTime)) of powered time (one failure forgiven every"
                + " \(status.lockoutInterval) s; TPM_PT_LOCKOUT_RECOVERY \(status.lockoutRecovery) s), or at once"
                + " with `tpm2_dictionarylockout --clear-lockout` (lockout authorization)"
        }
        if !keyIsExempt {
            text += ". The signing key has no noDA, so unclean shutdowns count against it: replace it with"
                + " `edgeproof tpm provision --replace` and update its allowlist entry"
        }
        return text
    }

    private static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value >= 10 || value == value.rounded() ? "\(Int(value.rounded())) s" : "\(value) s"
    }

    static func call(_ operation: String, code: UInt32) -> TPMError {
        TPMError(kind: .call(operation: operation, code: code, text: String(cString: Tss2_RC_Decode(code))))
    }

    static func invalidHandle(_ text: String) -> TPMError { TPMError(kind: .invalidHandle(text)) }
    static func handleOutOfRange(_ value: UInt32) -> TPMError { TPMError(kind: .handleOutOfRange(value)) }
    static func emptyHandle(_ handle: PersistentHandle) -> TPMError { TPMError(kind: .emptyHandle(handle)) }

    static func occupiedHandle(_ handle: PersistentHandle, holds: String, wanted: String) -> TPMError {
        TPMError(kind: .occupiedHandle(handle, holds: holds, wanted: wanted))
    }

    static func notSignOnly(_ handle: PersistentHandle, holds: String, attributes: String) -> TPMError {
        TPMError(kind: .notSignOnly(handle, holds: holds, attributes: attributes))
    }

    static func unsupportedKey(_ handle: PersistentHandle, _ what: String) -> TPMError {
        TPMError(kind: .unsupportedKey(handle, what))
    }

    static func invalidDigest(count: Int) -> TPMError { TPMError(kind: .invalidDigest(count)) }

    static func withoutNoDA(_ handle: PersistentHandle, holds: String) -> TPMError {
        TPMError(kind: .withoutNoDA(handle, holds: holds))
    }

    static func lockout(_ operation: String, status: TPMDictionaryAttackStatus?, keyIsExempt: Bool) -> TPMError {
        TPMError(kind: .lockout(operation: operation, status: status, keyIsExempt: keyIsExempt))
    }

    static func unavailable(tcti: String, cause: TPMError, retryIn: Duration) -> TPMError {
        TPMError(kind: .unavailable(tcti: tcti, cause: cause.description, retryIn: retryIn))
    }
    static func unexpectedResponse(_ what: String) -> TPMError { TPMError(kind: .unexpectedResponse(what)) }

    static func notAnAttestationKey(_ handle: PersistentHandle, holds: String, attributes: String) -> TPMError {
        TPMError(kind: .notAnAttestationKey(handle, holds: holds, attributes: attributes))
    }

    static func qualifyingDataTooLong(_ count: Int, maximum: Int) -> TPMError {
        TPMError(kind: .qualifyingDataTooLong(count, maximum: maximum))
    }

    static func invalidPCR(_ index: Int) -> TPMError { TPMError(kind: .invalidPCR(index)) }
    static let pcrsChanged = TPMError(kind: .pcrsChanged)

    var isPCRChange: Bool {
        if case .pcrsChanged = kind { return true }
        return false
    }

    /// The TPM said the handle does not refer to a loaded or persistent object (TPM_RC_HANDLE, format 1):
    /// for a persistent handle, nothing is stored there.
    var isHandleNotFound: Bool {
        guard let code else { return false }
        // Format-one TPM response codes: layer 0, bit 7 set, error number in the low 6 bits.
        return code & 0xFFFF_0000 == 0 && code & UInt32(TPM2_RC_FMT1) != 0
            && code & 0x3F == CTSS2_RC_HANDLE() & 0x3F
    }
}

extension TPMError {
    /// The connection to the TPM broke, and the ESAPI context with it: a TCTI or resource-manager failure
    /// (swtpm or tpm2-abrmd gone, /dev/tpmrm0 I/O error), or ESAPI refusing every call after one
    /// (TSS2_ESYS_RC_BAD_SEQUENCE, "Function called in the wrong order"). Only a new context helps.
    public var isConnectionLost: Bool {
        guard let code, code != TSS2_RC_SUCCESS else { return false }
        // tss2_common.h: the layer in bits 16-23 (TSS2_RC_LAYER(n), a macro Swift does not import), then
        // the TSS2_BASE_RC_* codes.
        let layer = (code & 0x00FF_0000) >> 16
        let base = code & 0x0000_FFFF
        switch layer {
        case 10, 11:  // TCTI, resource manager
            return true
        case 7, 8:  // ESAPI, SAPI
            // BAD_SEQUENCE 7, NO_CONNECTION 8, TRY_AGAIN 9, IO_ERROR 10, MALFORMED_RESPONSE 17,
            // INSUFFICIENT_RESPONSE 19, BAD_TCTI_STRUCTURE 22
            return [7, 8, 9, 10, 17, 19, 22].contains(base)
        default:
            // A TPM that restarted without TPM2_Startup answers TPM_RC_INITIALIZE until someone starts it.
            return code == CTSS2_RC_INITIALIZE()
        }
    }
}

/// Throws a ``TPMError`` naming `operation` unless `rc` is success. Every TSS2_RC goes through here.
@inline(__always)
func check(_ rc: TSS2_RC, _ operation: @autoclosure () -> String) throws(TPMError) {
    guard rc != TSS2_RC_SUCCESS else { return }
    throw TPMError.call(operation(), code: rc)
}

/// "0x01c00002": eight hex digits, as tpm2-tools prints handles.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
