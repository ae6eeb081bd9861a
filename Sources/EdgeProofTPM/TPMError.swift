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
    }

    private let kind: Kind

    /// The TSS2 return code, when a TSS call failed.
    public var code: UInt32? {
        if case .call(_, let code, _) = kind { return code }
        return nil
    }

    public var description: String {
        switch kind {
        case .call(let operation, let code, let text):
            "\(operation) failed: \(hex(code)) \(text)"
        case .invalidHandle(let text):
            "invalid persistent handle \"\(text.prefix(32))\"; expected hex such as 0x81010010"
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
        }
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
    static func unexpectedResponse(_ what: String) -> TPMError { TPMError(kind: .unexpectedResponse(what)) }

    /// The TPM said the handle does not refer to a loaded or persistent object (TPM_RC_HANDLE, format 1):
    /// for a persistent handle, nothing is stored there.
    var isHandleNotFound: Bool {
        guard let code else { return false }
        // Format-one TPM response codes: layer 0, bit 7 set, error number in the low 6 bits.
        return code & 0xFFFF_0000 == 0 && code & UInt32(TPM2_RC_FMT1) != 0
            && code & 0x3F == CTSS2_RC_HANDLE() & 0x3F
    }
}

/// Throws a ``TPMError`` naming `operation` unless `rc` is success. Every TSS2_RC goes through here.
@inline(__always)
func check(_ rc: TSS2_RC, _ operation: @autoclosure () -> String) throws(TPMError) {
    guard rc != TSS2_RC_SUCCESS else { return }
    throw TPMError.call(operation(), code: rc)
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
