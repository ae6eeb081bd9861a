import Crypto
import EdgeProofCore
import Foundation
import _CryptoExtras

/// Software keys for unit tests only: the agent signs with the TPM (see EdgeProofTPMTests).
struct SoftwareTestSigner: EnvelopeSigner {
    enum Key {
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    let key: Key

    static func make(_ algorithm: SignatureAlgorithm) throws -> SoftwareTestSigner {
        switch algorithm {
        case .es256: SoftwareTestSigner(key: .p256(P256.Signing.PrivateKey()))
        case .rs256: SoftwareTestSigner(key: .rsa(try RSAKeys.shared2048()))
        }
    }

    var publicKey: AgentPublicKey {
        get throws {
            switch key {
            case .p256(let key): try AgentPublicKey(pemRepresentation: key.publicKey.pemRepresentation)
            case .rsa(let key): try AgentPublicKey(pemRepresentation: key.publicKey.pemRepresentation)
            }
        }
    }

    var algorithm: SignatureAlgorithm {
        switch key {
        case .p256: .es256
        case .rsa: .rs256
        }
    }

    var publicKeyHash: PublicKeyHash {
        switch key {
        case .p256(let key): PublicKeyHash(subjectPublicKeyInfo: key.publicKey.derRepresentation)
        case .rsa(let key): PublicKeyHash(subjectPublicKeyInfo: key.publicKey.derRepresentation)
        }
    }

    func signature(forDigest digest: SHA256.Digest) async throws -> [UInt8] {
        switch key {
        case .p256(let key): Array(try key.signature(for: digest).rawRepresentation)
        case .rsa(let key): Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }
}

/// RSA key generation is slow; tests that need "some RSA key" share a few.
enum RSAKeys {
    private static let keys: [_RSA.Signing.PrivateKey] = (0..<2).compactMap { _ in
        try? _RSA.Signing.PrivateKey(keySize: .bits2048)
    }

    static func shared2048(_ index: Int = 0) throws -> _RSA.Signing.PrivateKey {
        guard index < keys.count else { throw FixtureError() }
        return keys[index]
    }

    struct FixtureError: Error {}
}

enum Fixtures {
    static let santaClara = GeographicRegion(region: "US", state: "California", city: "Santa Clara")

    static func claims(
        agent: String = "agent-001", keyHash: PublicKeyHash, nonce: String = "test-nonce",
        region: GeographicRegion = santaClara, samples: Int = 1, at date: Date = Date()
    ) -> EnvelopeClaims {
        let stamp = Timestamp.string(from: date)
        return EnvelopeClaims(
            agentName: agent, publicKeyHash: keyHash, nonce: nonce, timestamp: stamp,
            geographicRegion: region,
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: agent),
                samples: (0..<samples).map { index in
                    MetricSample(
                        timestamp: stamp, metricType: "system",
                        values: ["cpu_percent": .number(Double(index)), "memory_used_bytes": 1_048_576])
                }))
    }

    /// Rebuilds a flattened JWS from parts, for tampering tests.
    static func envelopeJSON(protected: String, payload: String, signature: String) -> Data {
        Data(#"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(signature)"}"#.utf8)
    }

    static func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}

/// The reason a validation step failed with, or nil if it passed.
func failureReason(_ body: () throws(ValidationFailure) -> Void) -> RejectionReason? {
    do {
        try body()
        return nil
    } catch {
        return error.reason
    }
}
