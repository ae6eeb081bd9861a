import Crypto
import Foundation
import _CryptoExtras

/// An agent's signing public key (ECC P-256 or RSA ≥ 2048), parsed once and used to verify JWS
/// signatures with swift-crypto.
public struct AgentPublicKey: Sendable {
    private enum Storage: Sendable {
        case p256(P256.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)

        var derRepresentation: Data {
            switch self {
            case .p256(let key): key.derRepresentation
            case .rsa(let key): key.derRepresentation
            }
        }
    }

    private let storage: Storage
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    public let hash: PublicKeyHash

    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) block.
    public init(pemRepresentation pem: String) throws(KeyError) {
        self.init(storage: try Self.storage(pemRepresentation: pem))
    }

    /// As ``init(pemRepresentation:)``, also telling whether `pem` is exactly the key's own
    /// ``pemRepresentation``: from the one DER serialization that the hash needs anyway, since
    /// serializing costs more than the rest of the comparison.
    static func parsing(pemRepresentation pem: String) throws(KeyError) -> (key: AgentPublicKey, isOwnPEM: Bool) {
        let storage = try Self.storage(pemRepresentation: pem)
        let der = storage.derRepresentation
        return (AgentPublicKey(storage: storage, der: der), Self.pem(der: der) == pem)
    }

    private static func storage(pemRepresentation pem: String) throws(KeyError) -> Storage {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            return .p256(key)
        } else if let key = try? _RSA.Signing.PublicKey(pemRepresentation: pem) {
            return .rsa(key)
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
        self.init(storage: storage, der: storage.derRepresentation)
    }

    private init(storage: Storage, der: Data) {
        self.storage = storage
        self.hash = PublicKeyHash(subjectPublicKeyInfo: der)
    }

    /// The only JWS algorithm this key verifies.
    public var algorithm: SignatureAlgorithm {
        switch storage {
        case .p256: .es256
        case .rsa: .rs256
        }
    }

    public var pemRepresentation: String {
        Self.pem(der: derRepresentation)
    }

    public var derRepresentation: Data {
        storage.derRepresentation
    }

    /// The PEM `PUBLIC KEY` block of `der` exactly as swift-crypto writes it (base64 in lines of 64
    /// characters, no final newline), so that ``parsing(pemRepresentation:)`` compares with the text
    /// ``pemRepresentation`` gives.
    static func pem(der: Data) -> String {
        let base64 = Array(der.base64EncodedString().utf8)
        var text = Array("-----BEGIN PUBLIC KEY-----".utf8)
        text.reserveCapacity(base64.count + base64.count / 64 + 52)
        for start in stride(from: 0, to: base64.count, by: 64) {
            text.append(UInt8(ascii: "\n"))
            text.append(contentsOf: base64[start..<min(start + 64, base64.count)])
        }
        text.append(contentsOf: "\n-----END PUBLIC KEY-----".utf8)
        return String(decoding: text, as: UTF8.self)
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
