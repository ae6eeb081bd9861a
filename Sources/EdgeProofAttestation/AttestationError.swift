/// Why a TPM structure, a signature or a credential could not be used: the structure and what is wrong with it.
public struct AttestationError: Error, Sendable, CustomStringConvertible, Equatable {
    private enum Kind: Sendable, Equatable {
        case malformed
        case unsupported
        case invalidSignature
        case openSSL
        case untrustedCertificate
        case refused
    }

    private let kind: Kind
    /// The TPM structure or operation concerned, e.g. "TPMT_PUBLIC.objectAttributes".
    public let structure: String
    /// What is wrong, in words.
    public let detail: String

    private init(_ kind: Kind, _ structure: String, _ detail: String) {
        self.kind = kind
        self.structure = structure
        self.detail = detail
    }

    /// The bytes do not form the structure (short, trailing bytes, a size out of range, a wrong constant).
    public static func malformed(_ structure: String, _ detail: String) -> AttestationError {
        AttestationError(.malformed, structure, detail)
    }

    /// Well-formed, but an algorithm or a variant this verifier does not accept.
    public static func unsupported(_ structure: String, _ detail: String) -> AttestationError {
        AttestationError(.unsupported, structure, detail)
    }

    /// The signature does not verify under the key.
    public static func invalidSignature(_ detail: String) -> AttestationError {
        AttestationError(.invalidSignature, "TPMT_SIGNATURE", detail)
    }

    /// The EK certificate does not chain to the trust store under the EK policy; `detail` says why.
    public static func untrustedCertificate(_ detail: String) -> AttestationError {
        AttestationError(.untrustedCertificate, "EK certificate chain", detail)
    }

    /// Well-formed and validly signed, but not what enrollment requires; `check` names the requirement (e.g.
    /// "ak_attributes", "certify_name"), so a caller can turn each into its own rejection reason.
    public static func refused(_ check: String, _ detail: String) -> AttestationError {
        AttestationError(.refused, check, detail)
    }

    /// libcrypto refused an operation; `detail` carries its error queue text.
    static func openSSL(_ operation: String, _ detail: String) -> AttestationError {
        AttestationError(.openSSL, operation, detail)
    }

    public var isMalformed: Bool { kind == .malformed }
    public var isUnsupported: Bool { kind == .unsupported }
    public var isInvalidSignature: Bool { kind == .invalidSignature }
    public var isUntrustedCertificate: Bool { kind == .untrustedCertificate }
    /// Set for ``refused(_:_:)``: the check that failed, nil for every other error.
    public var refusedCheck: String? { kind == .refused ? structure : nil }

    public var description: String {
        switch kind {
        case .malformed: "malformed \(structure): \(detail)"
        case .unsupported: "unsupported \(structure): \(detail)"
        case .invalidSignature: "invalid signature: \(detail)"
        case .refused: "\(structure) refused: \(detail)"
        case .untrustedCertificate: "untrusted EK certificate: \(detail)"
        case .openSSL: "OpenSSL \(structure) failed: \(detail)"
        }
    }
}
