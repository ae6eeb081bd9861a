import Crypto
import Foundation

/// A TPMT_PUBLIC (TPM 2.0 Part 2, 12.2.4) of an RSA or ECC key, parsed from its marshalled bytes, which it keeps:
/// the key's Name is the hash of exactly those bytes.
public struct TPMPublic: Sendable, Equatable {
    /// TPMT_SYM_DEF_OBJECT: the key's symmetric algorithm (`.null` for a signing key; AES-128-CFB for an EK).
    public struct Symmetric: Sendable, Equatable {
        public let algorithm: TPMAlgorithm
        public let keyBits: UInt16
        public let mode: TPMAlgorithm

        public init(algorithm: TPMAlgorithm, keyBits: UInt16, mode: TPMAlgorithm) {
            self.algorithm = algorithm
            self.keyBits = keyBits
            self.mode = mode
        }
    }

    /// TPMT_RSA_SCHEME / TPMT_ECC_SCHEME: the scheme a key is fixed to (`.null` when the caller chooses) and its
    /// hash (`.null` when the scheme has none).
    public struct Scheme: Sendable, Equatable {
        public let algorithm: TPMAlgorithm
        public let hash: TPMAlgorithm

        public init(algorithm: TPMAlgorithm, hash: TPMAlgorithm) {
            self.algorithm = algorithm
            self.hash = hash
        }
    }

    /// TPMS_RSA_PARMS' key size and exponent with the modulus from `unique`.
    public struct RSAKey: Sendable, Equatable {
        public let keyBits: UInt16
        /// The public exponent; the TPM's 0 already replaced by its meaning, 65537.
        public let exponent: UInt32
        public let modulus: Data
    }

    /// TPMS_ECC_PARMS' curve and KDF with the point from `unique`.
    public struct ECCKey: Sendable, Equatable {
        public let curve: TPMECCCurve
        public let kdf: Scheme
        public let x: Data
        public let y: Data
    }

    public let type: TPMAlgorithm
    public let nameAlgorithm: TPMAlgorithm
    public let objectAttributes: TPMObjectAttributes
    public let authPolicy: Data
    public let symmetric: Symmetric
    public let scheme: Scheme
    /// Set when `type` is `.rsa`.
    public let rsa: RSAKey?
    /// Set when `type` is `.ecc`.
    public let ecc: ECCKey?
    /// The TPMT_PUBLIC bytes as parsed.
    public let encoded: Data

    /// Parses a TPM2B_PUBLIC: a UInt16 size, then a TPMT_PUBLIC of exactly that size (what tpm2-tools writes with
    /// `-u key.pub` and ESAPI returns as outPublic).
    public init(tpm2bPublic bytes: some Collection<UInt8>) throws {
        var reader = TPMReader(bytes, structure: "TPM2B_PUBLIC")
        let content = try reader.sized("publicArea")
        try reader.finish()
        guard !content.isEmpty else { throw AttestationError.malformed("TPM2B_PUBLIC", "empty public area") }
        try self.init(tpmtPublic: content)
    }

    /// Parses a TPMT_PUBLIC with nothing after it.
    public init(tpmtPublic bytes: some Collection<UInt8>) throws {
        var reader = TPMReader(bytes, structure: "TPMT_PUBLIC")
        type = TPMAlgorithm(rawValue: try reader.uint16("type"))
        guard type == .rsa || type == .ecc else {
            throw AttestationError.unsupported("TPMT_PUBLIC.type", "\(type) (only rsa and ecc keys)")
        }
        nameAlgorithm = TPMAlgorithm(rawValue: try reader.uint16("nameAlg"))
        guard nameAlgorithm == .sha256 || nameAlgorithm == .sha384 else {
            throw AttestationError.unsupported("TPMT_PUBLIC.nameAlg", "\(nameAlgorithm) (only sha256 and sha384)")
        }
        objectAttributes = TPMObjectAttributes(rawValue: try reader.uint32("objectAttributes"))
        authPolicy = Data(try reader.sized("authPolicy", maximum: 64))
        symmetric = try Self.readSymmetric(&reader)
        if type == .rsa {
            scheme = try Self.readScheme(&reader, "parameters.scheme", withoutHash: [.rsaes])
            let keyBits = try reader.uint16("parameters.keyBits")
            let exponent = try reader.uint32("parameters.exponent")
            let modulus = try reader.sized("unique.rsa", maximum: 512)
            guard modulus.count * 8 == Int(keyBits) else {
                throw AttestationError.malformed(
                    "TPMT_PUBLIC.unique.rsa", "\(modulus.count * 8)-bit modulus for keyBits \(keyBits)")
            }
            rsa = RSAKey(keyBits: keyBits, exponent: exponent == 0 ? 65537 : exponent, modulus: Data(modulus))
            ecc = nil
        } else {
            scheme = try Self.readScheme(&reader, "parameters.scheme", withoutHash: [])
            let curve = TPMECCCurve(rawValue: try reader.uint16("parameters.curveID"))
            let kdf = try Self.readScheme(&reader, "parameters.kdf", withoutHash: [])
            let x = try reader.sized("unique.ecc.x", maximum: 128)
            let y = try reader.sized("unique.ecc.y", maximum: 128)
            ecc = ECCKey(curve: curve, kdf: kdf, x: Data(x), y: Data(y))
            rsa = nil
        }
        try reader.finish()
        encoded = Data(bytes)
    }

    /// The key's Name (TPM 2.0 Part 1, 16): nameAlg as UInt16 followed by nameAlg's digest of the TPMT_PUBLIC.
    public var name: Data {
        var name = Data([UInt8(nameAlgorithm.rawValue >> 8), UInt8(nameAlgorithm.rawValue & 0xff)])
        switch nameAlgorithm {
        case .sha384: name.append(contentsOf: SHA384.hash(data: encoded))
        default: name.append(contentsOf: SHA256.hash(data: encoded))
        }
        return name
    }

    /// The TPM2B_PUBLIC form: the UInt16 size, then the TPMT_PUBLIC.
    public var tpm2bPublic: Data {
        var writer = TPMWriter()
        writer.sized(encoded)
        return Data(writer.bytes)
    }

    private static func readSymmetric(_ reader: inout TPMReader) throws -> Symmetric {
        let algorithm = TPMAlgorithm(rawValue: try reader.uint16("parameters.symmetric.algorithm"))
        guard algorithm != .null else { return Symmetric(algorithm: .null, keyBits: 0, mode: .null) }
        guard algorithm == .aes else {
            throw AttestationError.unsupported("TPMT_PUBLIC.parameters.symmetric", "\(algorithm) (only aes or null)")
        }
        let keyBits = try reader.uint16("parameters.symmetric.keyBits")
        let mode = TPMAlgorithm(rawValue: try reader.uint16("parameters.symmetric.mode"))
        return Symmetric(algorithm: algorithm, keyBits: keyBits, mode: mode)
    }

    /// A scheme selector and its details: a hash for every scheme except those in `withoutHash` (RSAES has no
    /// details), and ECDAA's count besides.
    private static func readScheme(
        _ reader: inout TPMReader, _ field: String, withoutHash: Set<TPMAlgorithm>
    ) throws -> Scheme {
        let algorithm = TPMAlgorithm(rawValue: try reader.uint16("\(field).scheme"))
        guard algorithm != .null, !withoutHash.contains(algorithm) else {
            return Scheme(algorithm: algorithm, hash: .null)
        }
        let hash = TPMAlgorithm(rawValue: try reader.uint16("\(field).hashAlg"))
        if algorithm == .ecdaa { _ = try reader.uint16("\(field).count") }
        return Scheme(algorithm: algorithm, hash: hash)
    }
}
