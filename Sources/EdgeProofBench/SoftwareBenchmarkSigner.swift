import Crypto
import Foundation
import EdgeProofCore
import _CryptoExtras

/// Software keys for benchmark load only; the agent never signs with anything but the TPM.
public struct SoftwareBenchmarkSigner: EnvelopeSigner {
    private enum Key {
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    private let key: Key
    public let algorithm: SignatureAlgorithm
    public let publicKeyHash: PublicKeyHash

    public init(_ algorithm: SignatureAlgorithm) throws {
        self.algorithm = algorithm
        switch algorithm {
        case .es256:
            let key = P256.Signing.PrivateKey()
            self.key = .p256(key)
            publicKeyHash = PublicKeyHash(subjectPublicKeyInfo: key.publicKey.derRepresentation)
        case .rs256:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            self.key = .rsa(key)
            publicKeyHash = PublicKeyHash(subjectPublicKeyInfo: key.publicKey.derRepresentation)
        }
    }

    public var publicKey: AgentPublicKey {
        get throws {
            switch key {
            case .p256(let key): try AgentPublicKey(derRepresentation: key.publicKey.derRepresentation)
            case .rsa(let key): try AgentPublicKey(derRepresentation: key.publicKey.derRepresentation)
            }
        }
    }

    public func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8] {
        switch key {
        case .p256(let key): Array(try key.signature(for: digest).rawRepresentation)
        case .rsa(let key): Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }
}

extension SoftwareBenchmarkSigner {
    /// A fresh ES256 key for each of `names` and an allowlist with each allowed in US/California.
    static func allowlisted(_ names: [String]) throws -> (Allowlist, [String: SoftwareBenchmarkSigner]) {
        var allowlist = Allowlist()
        var signers: [String: SoftwareBenchmarkSigner] = [:]
        for name in names {
            let signer = try SoftwareBenchmarkSigner(.es256)
            signers[name] = signer
            try allowlist.add(
                AllowlistEntry(
                    name: name, key: try signer.publicKey, createdAt: Timestamp.string(from: Date()),
                    allowedPlaces: [AllowedPlace(region: "US", state: "California")]))
        }
        return (allowlist, signers)
    }
}
