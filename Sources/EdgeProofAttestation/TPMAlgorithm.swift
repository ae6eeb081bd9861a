/// A TPM_ALG_ID (TPM 2.0 Part 2, 6.3), with the identifiers EdgeProof meets named. Unknown values are kept, so a
/// parser can report them.
public struct TPMAlgorithm: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let rsa = TPMAlgorithm(rawValue: 0x0001)
    public static let sha1 = TPMAlgorithm(rawValue: 0x0004)
    public static let hmac = TPMAlgorithm(rawValue: 0x0005)
    public static let aes = TPMAlgorithm(rawValue: 0x0006)
    public static let keyedHash = TPMAlgorithm(rawValue: 0x0008)
    public static let sha256 = TPMAlgorithm(rawValue: 0x000B)
    public static let sha384 = TPMAlgorithm(rawValue: 0x000C)
    public static let sha512 = TPMAlgorithm(rawValue: 0x000D)
    public static let null = TPMAlgorithm(rawValue: 0x0010)
    public static let rsassa = TPMAlgorithm(rawValue: 0x0014)
    public static let rsaes = TPMAlgorithm(rawValue: 0x0015)
    public static let rsapss = TPMAlgorithm(rawValue: 0x0016)
    public static let oaep = TPMAlgorithm(rawValue: 0x0017)
    public static let ecdsa = TPMAlgorithm(rawValue: 0x0018)
    public static let ecdh = TPMAlgorithm(rawValue: 0x0019)
    public static let ecdaa = TPMAlgorithm(rawValue: 0x001A)
    public static let ecschnorr = TPMAlgorithm(rawValue: 0x001C)
    public static let ecc = TPMAlgorithm(rawValue: 0x0023)
    public static let symCipher = TPMAlgorithm(rawValue: 0x0025)
    public static let cfb = TPMAlgorithm(rawValue: 0x0043)

    private static let names: [UInt16: String] = [
        0x0001: "rsa", 0x0004: "sha1", 0x0005: "hmac", 0x0006: "aes", 0x0008: "keyedhash", 0x000B: "sha256",
        0x000C: "sha384", 0x000D: "sha512", 0x0010: "null", 0x0014: "rsassa", 0x0015: "rsaes", 0x0016: "rsapss",
        0x0017: "oaep", 0x0018: "ecdsa", 0x0019: "ecdh", 0x001A: "ecdaa", 0x001C: "ecschnorr", 0x0023: "ecc",
        0x0025: "symcipher", 0x0043: "cfb",
    ]

    public var description: String {
        Self.names[rawValue] ?? "0x" + String(rawValue, radix: 16, uppercase: false)
    }

    /// The digest size of a hash algorithm, nil for anything else.
    public var digestSize: Int? {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        default: nil
        }
    }
}

/// A TPM_ECC_CURVE (TPM 2.0 Part 2, 6.4).
public struct TPMECCCurve: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let nistP256 = TPMECCCurve(rawValue: 0x0003)
    public static let nistP384 = TPMECCCurve(rawValue: 0x0004)

    public var description: String {
        switch self {
        case .nistP256: "NIST P-256"
        case .nistP384: "NIST P-384"
        default: "curve 0x" + String(rawValue, radix: 16)
        }
    }

    /// Bytes per coordinate, nil for curves this verifier does not know.
    var coordinateSize: Int? {
        switch self {
        case .nistP256: 32
        case .nistP384: 48
        default: nil
        }
    }
}

/// TPMA_OBJECT (TPM 2.0 Part 2, 8.3): how a key may be used and where it may live.
public struct TPMObjectAttributes: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let fixedTPM = TPMObjectAttributes(rawValue: 1 << 1)
    public static let stClear = TPMObjectAttributes(rawValue: 1 << 2)
    public static let fixedParent = TPMObjectAttributes(rawValue: 1 << 4)
    public static let sensitiveDataOrigin = TPMObjectAttributes(rawValue: 1 << 5)
    public static let userWithAuth = TPMObjectAttributes(rawValue: 1 << 6)
    public static let adminWithPolicy = TPMObjectAttributes(rawValue: 1 << 7)
    public static let noDA = TPMObjectAttributes(rawValue: 1 << 10)
    public static let encryptedDuplication = TPMObjectAttributes(rawValue: 1 << 11)
    public static let restricted = TPMObjectAttributes(rawValue: 1 << 16)
    public static let decrypt = TPMObjectAttributes(rawValue: 1 << 17)
    /// signEncrypt: a signing key (or, for a symmetric cipher, an encrypting one).
    public static let sign = TPMObjectAttributes(rawValue: 1 << 18)
    public static let x509Sign = TPMObjectAttributes(rawValue: 1 << 19)

    private static let named: [(TPMObjectAttributes, String)] = [
        (.fixedTPM, "fixedtpm"), (.stClear, "stclear"), (.fixedParent, "fixedparent"),
        (.sensitiveDataOrigin, "sensitivedataorigin"), (.userWithAuth, "userwithauth"),
        (.adminWithPolicy, "adminwithpolicy"), (.noDA, "noda"), (.encryptedDuplication, "encryptedduplication"),
        (.restricted, "restricted"), (.decrypt, "decrypt"), (.sign, "sign"), (.x509Sign, "x509sign"),
    ]

    /// tpm2-tools' spelling, e.g. "fixedtpm|fixedparent|sign"; unnamed bits as hex.
    public var description: String {
        var parts = Self.named.filter { contains($0.0) }.map(\.1)
        let known = Self.named.reduce(0) { $0 | $1.0.rawValue }
        if rawValue & ~known != 0 { parts.append("0x" + String(rawValue & ~known, radix: 16)) }
        return parts.isEmpty ? "none" : parts.joined(separator: "|")
    }
}
