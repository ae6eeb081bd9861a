import Crypto
import Foundation
import _CryptoExtras

/// An agent's signing public key (ECC P-256 or RSA ≥ 2048), parsed once and used to verify JWS
/// signatures with swift-crypto.
public struct AgentPublicKey: Sendable {
    private enum Storage: Sendable {
        case p256(P256.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
    }

    private let storage: Storage
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    public let hash: PublicKeyHash

    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) block.
    public init(pemRepresentation pem: String) throws(KeyError) {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            self.init(storage: .p256(key))
        } else if let key = try? _RSA.Signing.PublicKey(pemRepresentation: pem) {
            self.init(storage: .rsa(key))
        } else if let weak = try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem) {
            // swift-crypto refuses short RSA keys without saying why; name the size instead.
            throw KeyError.weakRSAKey(bits: weak.keySizeInBits)
        } else {
            throw KeyError.unreadablePEM
        }
    }

    /// Parses DER SubjectPublicKeyInfo.
    public init(derRepresentation der: some DataProtocol) throws(KeyError) {
        let bytes = Data(der)
        if let key = try? P256.Signing.PublicKey(derRepresentation: bytes) {
            self.init(storage: .p256(key))
        } else if let key = try? _RSA.Signing.PublicKey(derRepresentation: bytes) {
            self.init(storage: .rsa(key))
        } else if let weak = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: bytes) {
            throw KeyError.weakRSAKey(bits: weak.keySizeInBits)
        } else {
            throw KeyError.unreadableDER
        }
    }

    /// An ECC P-256 key from its affine coordinates (each 32 bytes, big-endian).
    public init(p256X x: some DataProtocol, y: some DataProtocol) throws(KeyError) {
        guard x.count <= 32, y.count <= 32 else { throw KeyError.unreadableDER }
        let point = [0x04] + Self.leftPadded(Array(x), to: 32) + Self.leftPadded(Array(y), to: 32)
        guard let key = try? P256.Signing.PublicKey(x963Representation: point) else { throw KeyError.unreadableDER }
        self.init(storage: .p256(key))
    }

    /// An RSA key from its modulus and public exponent (big-endian).
    public init(rsaModulus modulus: some DataProtocol, exponent: some DataProtocol) throws(KeyError) {
        guard let key = try? _RSA.Signing.PublicKey(n: Array(modulus), e: Array(exponent)) else {
            throw KeyError.unreadableDER
        }
        guard key.keySizeInBits >= 2048 else { throw KeyError.weakRSAKey(bits: key.keySizeInBits) }
        self.init(storage: .rsa(key))
    }

    private init(storage: Storage) {
        self.storage = storage
        switch storage {
        case .p256(let key): self.hash = PublicKeyHash(subjectPublicKeyInfo: key.derRepresentation)
        case .rsa(let key): self.hash = PublicKeyHash(subjectPublicKeyInfo: key.derRepresentation)
        }
    }

    /// The only JWS algorithm this key verifies.
    public var algorithm: SignatureAlgorithm {
        switch storage {
        case .p256: .es256
        case .rsa: .rs256
        }
    }

    public var pemRepresentation: String {
        switch storage {
        case .p256(let key): key.pemRepresentation
        case .rsa(let key): key.pemRepresentation
        }
    }

    public var derRepresentation: Data {
        switch storage {
        case .p256(let key): key.derRepresentation
        case .rsa(let key): key.derRepresentation
        }
    }

    /// A readable name of the key type ("ECC P-256", "RSA-2048").
    public var keyDescription: String {
        switch storage {
        case .p256: "ECC P-256"
        case .rsa(let key): "RSA-\(key.keySizeInBits)"
        }
    }

    /// Checks a JWS signature (`signature` in JWS form: r‖s for ES256, PKCS#1 v1.5 for RS256) over
    /// `message` with SHA-256.
    public func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol) -> Bool {
        isValidSignature(signature, forDigest: SHA256.hash(data: message))
    }

    /// As ``isValidSignature(_:for:)`` when the SHA-256 digest is already known.
    public func isValidSignature(_ signature: some DataProtocol, forDigest digest: SHA256.Digest) -> Bool {
        switch storage {
        case .p256(let key):
            guard signature.count == 64,
                let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(ecdsa, for: digest)
        case .rsa(let key):
            // RS256 is PKCS#1 v1.5; swift-crypto's default padding is PSS.
            let rsa = _RSA.Signing.RSASignature(rawRepresentation: signature)
            return key.isValidSignature(rsa, for: digest, padding: .insecurePKCS1v1_5)
        }
    }

    static func leftPadded(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.count >= length ? bytes : [UInt8](repeating: 0, count: length - bytes.count) + bytes
    }
}

/// Why a public key could not be used.
public struct KeyError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case unreadablePEM
        case unreadableDER
        case weakRSAKey(Int)
    }

    private let kind: Kind

    public static let unreadablePEM = KeyError(kind: .unreadablePEM)
    public static let unreadableDER = KeyError(kind: .unreadableDER)
    public static func weakRSAKey(bits: Int) -> KeyError { KeyError(kind: .weakRSAKey(bits)) }

    public var description: String {
        switch kind {
        case .unreadablePEM:
            "not a PEM public key (SubjectPublicKeyInfo) of type ECC P-256 or RSA"
        case .unreadableDER:
            "not a DER public key of type ECC P-256 or RSA"
        case .weakRSAKey(let bits):
            "RSA key of \(bits) bits is too weak; at least 2048 bits are required"
        }
    }
}
