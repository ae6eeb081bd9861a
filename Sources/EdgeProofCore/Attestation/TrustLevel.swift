/// How strongly an allowlisted key's origin was proven, weakest first. Policies compare levels:
/// `require_trust_level: tpm-ek-pinned` accepts `tpm-ek-pinned` and `tpm-ek-cert`.
public enum TrustLevel: String, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// An operator added the public key (`allowlist add --public-key`): nothing proves where it lives.
    case configured
    /// Enrolled with TPM evidence for an EK whose public-key hash the operator typed or pre-registered,
    /// without a certificate chain to a trusted manufacturer CA.
    case tpmEKPinned = "tpm-ek-pinned"
    /// Enrolled with TPM evidence for an EK whose certificate chains to a trusted manufacturer CA.
    case tpmEKCert = "tpm-ek-cert"

    public var description: String { rawValue }

    private var rank: Int {
        switch self {
        case .configured: 0
        case .tpmEKPinned: 1
        case .tpmEKCert: 2
        }
    }

    public static func < (lhs: TrustLevel, rhs: TrustLevel) -> Bool { lhs.rank < rhs.rank }
}
