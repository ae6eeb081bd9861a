internal import CTSS2
import EdgeProofCore

/// What EdgeProof needs from a TPM object's public area (TPMT_PUBLIC), copied into Swift values, and the
/// templates for the objects it creates.
struct TPMPublic: Sendable {
    enum Key: Sendable {
        case ecc(curve: UInt16, x: [UInt8], y: [UInt8])
        /// `exponent` 0 means the TPM default, 65537.
        case rsa(bits: UInt16, exponent: UInt32, modulus: [UInt8])
        case other(type: UInt16)
    }

    let key: Key
    /// TPMA_OBJECT bits.
    let attributes: UInt32
    /// The key's own signing scheme (TPM2_ALG_NULL when the key leaves it to each signature) and its hash.
    let scheme: UInt16
    let schemeHash: UInt16

    init(_ area: TPMT_PUBLIC) {
        attributes = area.objectAttributes
        switch area.type {
        case TPM2_ALG_ECC:
            let point = area.unique.ecc
            key = .ecc(
                curve: area.parameters.eccDetail.curveID,
                x: bytes(of: point.x.buffer, count: point.x.size),
                y: bytes(of: point.y.buffer, count: point.y.size))
            scheme = area.parameters.eccDetail.scheme.scheme
            schemeHash = area.parameters.eccDetail.scheme.details.anySig.hashAlg
        case TPM2_ALG_RSA:
            let parameters = area.parameters.rsaDetail
            key = .rsa(
                bits: parameters.keyBits, exponent: parameters.exponent,
                modulus: bytes(of: area.unique.rsa.buffer, count: area.unique.rsa.size))
            scheme = parameters.scheme.scheme
            schemeHash = parameters.scheme.details.anySig.hashAlg
        default:
            key = .other(type: area.type)
            scheme = TPM2_ALG_NULL
            schemeHash = TPM2_ALG_NULL
        }
    }

    /// The EdgeProof algorithm this key matches, whatever its attributes.
    var algorithm: TPMKeyAlgorithm? {
        switch key {
        case .ecc(let curve, _, _) where curve == TPM2_ECC_NIST_P256: .eccP256
        case .rsa(let bits, _, _) where bits == 2048: .rsa2048
        default: nil
        }
    }

    /// May sign arbitrary digests and do nothing else: sign set, decrypt and restricted clear, and a
    /// scheme, if the key fixes one, that produces ES256 or RS256 signatures (the TPM refuses any other).
    var isSignOnly: Bool {
        let sign = attributes & TPMA_OBJECT_SIGN_ENCRYPT != 0
        let other = attributes & (TPMA_OBJECT_DECRYPT | TPMA_OBJECT_RESTRICTED) != 0
        let usableScheme =
            scheme == TPM2_ALG_NULL
            || ([TPM2_ALG_ECDSA, TPM2_ALG_RSASSA].contains(scheme) && schemeHash == TPM2_ALG_SHA256)
        return sign && !other && usableScheme
    }

    /// `noDA`: the TPM's dictionary-attack protection leaves the object alone, so neither failed
    /// authorizations nor unclean shutdowns can lock it out.
    var isLockoutExempt: Bool { attributes & TPMA_OBJECT_NODA != 0 }

    /// "an ECC P-256 key", "an RSA-3072 key", for error messages.
    var keyDescription: String {
        switch key {
        case .ecc(let curve, _, _):
            curve == TPM2_ECC_NIST_P256 ? "an ECC P-256 key" : "an ECC key on TPM curve \(curve)"
        case .rsa(let bits, _, _):
            "an RSA-\(bits) key"
        case .other(let type):
            "an object of TPM type 0x\(String(type, radix: 16)) (not an asymmetric key)"
        }
    }

    /// The attributes as tpm2-tools names them: "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign".
    var attributeNames: String {
        let names: [(TPMA_OBJECT, String)] = [
            (TPMA_OBJECT_FIXEDTPM, "fixedtpm"), (TPMA_OBJECT_STCLEAR, "stclear"),
            (TPMA_OBJECT_FIXEDPARENT, "fixedparent"), (TPMA_OBJECT_SENSITIVEDATAORIGIN, "sensitivedataorigin"),
            (TPMA_OBJECT_USERWITHAUTH, "userwithauth"), (TPMA_OBJECT_ADMINWITHPOLICY, "adminwithpolicy"),
            (TPMA_OBJECT_NODA, "noda"), (TPMA_OBJECT_ENCRYPTEDDUPLICATION, "encryptedduplication"),
            (TPMA_OBJECT_RESTRICTED, "restricted"), (TPMA_OBJECT_DECRYPT, "decrypt"),
            (TPMA_OBJECT_SIGN_ENCRYPT, "sign"),
        ]
        return names.filter { attributes & $0.0 != 0 }.map(\.1).joined(separator: "|")
    }

    /// The public key as the rest of EdgeProof uses it; nil for keys it cannot use.
    var agentPublicKey: AgentPublicKey? {
        switch key {
        case .ecc(let curve, let x, let y) where curve == TPM2_ECC_NIST_P256:
            return try? AgentPublicKey(p256X: x, y: y)
        case .rsa(_, let exponent, let modulus):
            // The TPM stores 0 for the default exponent 2^16 + 1.
            let value = exponent == 0 ? 65537 : exponent
            let bigEndian = withUnsafeBytes(of: value.bigEndian) { Array($0) }
            return try? AgentPublicKey(rsaModulus: modulus, exponent: bigEndian.drop { $0 == 0 })
        default:
            return nil
        }
    }

    /// An ECC P-256 storage key (restricted, decrypt, AES-128-CFB): the parent under which signing keys
    /// are created. The same template always yields the same primary key for the same owner seed.
    ///
    /// `noDA` as on the signing key: its authValue is empty, and an unclean shutdown after using a
    /// DA-protected parent would count as a dictionary-attack failure too.
    static var storageKeyTemplate: TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.type = TPM2_ALG_ECC
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes =
            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
            | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA
        template.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES
        template.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128
        template.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB
        template.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL
        template.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256
        template.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL
        return template
    }

    /// A sign-only key that never leaves this TPM: sign | fixedTPM | fixedParent | sensitiveDataOrigin |
    /// userWithAuth | noDA, with its signing scheme fixed to ES256 or RS256.
    ///
    /// Its authValue is empty: what protects it is fixedTPM, not a password, so dictionary-attack
    /// protection guards nothing and only hurts. Without noDA every unclean power loss after a signature
    /// counts as a failure, and after a few (3 on swtpm) the TPM refuses the key with TPM_RC_LOCKOUT.
    static func signingKeyTemplate(_ algorithm: TPMKeyAlgorithm) -> TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes =
            TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
            | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA
        switch algorithm {
        case .eccP256:
            template.publicArea.type = TPM2_ALG_ECC
            template.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL
            template.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA
            template.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256
            template.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256
            template.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL
        case .rsa2048:
            template.publicArea.type = TPM2_ALG_RSA
            template.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL
            template.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA
            template.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256
            template.publicArea.parameters.rsaDetail.keyBits = 2048
            template.publicArea.parameters.rsaDetail.exponent = 0
        }
        return template
    }
}

/// The first `count` bytes of a fixed-size C array (imported as a tuple), clamped to its size.
func bytes<Buffer>(of buffer: Buffer, count: UInt16) -> [UInt8] {
    withUnsafeBytes(of: buffer) { Array($0.prefix(Int(count))) }
}

/// Stores `bytes` at the start of a fixed-size C array; returns the count for the TPM2B `size` field.
func store<Buffer>(_ bytes: [UInt8], in buffer: inout Buffer) -> UInt16 {
    withUnsafeMutableBytes(of: &buffer) { raw in
        precondition(bytes.count <= raw.count, "TPM2B buffer overflow")
        raw.copyBytes(from: bytes)
    }
    return UInt16(bytes.count)
}
