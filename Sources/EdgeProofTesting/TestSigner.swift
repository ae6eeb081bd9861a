import Crypto
import EdgeProofCore
import EdgeProofLocalStack
import Foundation
import _CryptoExtras

/// A software key standing in for an agent's TPM key in tests (the agent itself signs only with the TPM; see
/// EdgeProofTPMTests). P-256 by default; RSA-2048 from a small shared pool, since RSA key generation is slow.
public struct TestSigner: EnvelopeSigner {
    public enum Key: Sendable {
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    public let key: Key
    /// Set to lie about the key in the header and claims (for mismatch and impostor tests).
    public var claimedHash: PublicKeyHash?

    public init(key: P256.Signing.PrivateKey = P256.Signing.PrivateKey(), claimedHash: PublicKeyHash? = nil) {
        self.key = .p256(key)
        self.claimedHash = claimedHash
    }

    public init(rsa key: _RSA.Signing.PrivateKey) {
        self.key = .rsa(key)
    }

    /// A signer for `algorithm`: a fresh P-256 key, or shared RSA key `index` (0 or 1).
    public static func make(_ algorithm: SignatureAlgorithm, index: Int = 0) throws -> TestSigner {
        switch algorithm {
        case .es256: TestSigner()
        case .rs256: TestSigner(rsa: try sharedRSAKey(index))
        }
    }

    public var algorithm: SignatureAlgorithm {
        switch key {
        case .p256: .es256
        case .rsa: .rs256
        }
    }

    /// The SPKI DER of the real key.
    public var publicKeyDER: Data {
        switch key {
        case .p256(let key): key.publicKey.derRepresentation
        case .rsa(let key): key.publicKey.derRepresentation
        }
    }

    public var realHash: PublicKeyHash { PublicKeyHash(subjectPublicKeyInfo: publicKeyDER) }
    public var publicKeyHash: PublicKeyHash { claimedHash ?? realHash }

    public var publicKey: AgentPublicKey {
        get throws { try AgentPublicKey(derRepresentation: publicKeyDER) }
    }

    public func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8] {
        switch key {
        case .p256(let key): Array(try key.signature(for: digest).rawRepresentation)
        case .rsa(let key): Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }

    // RSA key generation takes a while; tests that need "some RSA key" share these.
    private static let rsaKeys: [_RSA.Signing.PrivateKey] = (0..<2).compactMap { _ in
        try? _RSA.Signing.PrivateKey(keySize: .bits2048)
    }

    /// Shared RSA-2048 key `index` (0 or 1).
    public static func sharedRSAKey(_ index: Int = 0) throws -> _RSA.Signing.PrivateKey {
        guard rsaKeys.indices.contains(index) else { throw TestFixtureError("no shared RSA key \(index)") }
        return rsaKeys[index]
    }
}
