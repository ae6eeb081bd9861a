import Crypto
import EdgeProofCore
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Testing

@Suite struct TPMSignerTests {
    @Test(arguments: TPMKeyAlgorithm.allCases)
    func signedEnvelopeVerifiesAndAFlippedPayloadByteDoesNot(_ algorithm: TPMKeyAlgorithm) async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let (envelope, key) = try await tpm.withDevice { device in
            let key = try await device.provisionSigningKey(algorithm, at: .defaultSigningKey).publicKey
            let signer = try await TPMSigner(device: device)
            #expect(signer.algorithm == algorithm.signatureAlgorithm)
            #expect(signer.publicKeyHash == key.hash)
            return (try await SignedEnvelope.sign(Self.claims(signer.publicKeyHash), with: signer), key)
        }
        if algorithm == .eccP256 { #expect(envelope.signatureBytes.count == 64) }
        if algorithm == .rsa2048 { #expect(envelope.signatureBytes.count == 256) }

        let parsed = try SignedEnvelope(parsing: envelope.serialized())
        #expect(parsed.header.keyID == key.hash)
        try parsed.verifySignature(with: key)

        // "agent-001" → "agent-000": one bit of one payload byte, everything else as signed.
        var claims = try #require(Base64URL.decode(parsed.payload))
        let target = try #require(claims.firstRange(of: Data("agent-001".utf8)))
        claims[target.upperBound - 1] ^= 0x01
        let tampered = #"{"protected":"\#(parsed.protected)","payload":"\#(Base64URL.encode(claims))","#
            + #""signature":"\#(parsed.signature)"}"#
        let forged = try SignedEnvelope(parsing: Data(tampered.utf8))
        #expect(forged.claims.agentName == "agent-000")
        let failure = try #require(throws: ValidationFailure.self) { try forged.verifySignature(with: key) }
        #expect(failure.reason == .badSignature)
    }

    @Test(arguments: TPMKeyAlgorithm.allCases)
    func envelopeSignatureVerifiesWithOpenSSL(_ algorithm: TPMKeyAlgorithm) async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let (envelope, key) = try await tpm.withDevice { device in
            let key = try await device.provisionSigningKey(algorithm, at: .defaultSigningKey).publicKey
            let signer = try await TPMSigner(device: device)
            return (try await SignedEnvelope.sign(Self.claims(key.hash), with: signer), key)
        }
        let work = tpm.directory
        try Data(key.pemRepresentation.utf8).write(to: work.appending("pub.pem"))
        try Data(envelope.signingInput).write(to: work.appending("input.txt"))
        // OpenSSL wants ECDSA signatures in DER; JWS carries r‖s.
        let signature =
            algorithm == .eccP256
            ? try P256.Signing.ECDSASignature(rawRepresentation: envelope.signatureBytes).derRepresentation
            : Data(envelope.signatureBytes)
        try signature.write(to: work.appending("sig.der"))
        let result = try openssl(
            ["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "input.txt"], in: work)
        #expect(result.output.contains("Verified OK"))
    }

    @Test(arguments: TPMKeyAlgorithm.allCases)
    func tpm2SignSignatureVerifiesWithTheAgentKey(_ algorithm: TPMKeyAlgorithm) async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let key = try await tpm.withDevice { device in
            try await device.provisionSigningKey(algorithm, at: .defaultSigningKey).publicKey
        }
        let message = Data("metrics from tpm2-tools".utf8)
        try message.write(to: tpm.directory.appending("message.txt"))
        _ = try tpm.tool(
            "tpm2_sign", ["-c", "0x81020010", "-g", "sha256", "-f", "plain", "-o", "sig.bin", "message.txt"])
        let plain = try Data(contentsOf: tpm.directory.appending("sig.bin"))
        // tpm2-tools "plain" is DER for ECDSA (not r‖s) and the bare PKCS#1 v1.5 signature for RSASSA.
        let jws =
            algorithm == .eccP256
            ? try P256.Signing.ECDSASignature(derRepresentation: plain).rawRepresentation
            : plain
        #expect(key.isValidSignature(jws, for: message))
        #expect(!key.isValidSignature(jws, for: Data("metrics from tpm2-tool".utf8)))
    }

    @Test func signerReportsAnEmptyHandle() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let error = try await #require(throws: TPMError.self) { try await TPMSigner(device: device) }
            #expect(error.description.hasPrefix("handle 0x81020010 holds no key"))
        }
    }

    @Test func manySignaturesOverOneContextAllVerify() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let key = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey).publicKey
            let signer = try await TPMSigner(device: device)
            // Concurrent callers are serialized by the actor; no transient object leaks between them.
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        let digest = SHA256.hash(data: Data("message \(index)".utf8))
                        return key.isValidSignature(try await signer.signature(forDigest: digest), forDigest: digest)
                    }
                }
                for try await valid in group { #expect(valid) }
            }
        }
    }

    static func claims(_ hash: PublicKeyHash) -> EnvelopeClaims {
        EnvelopeClaims(
            agentName: "agent-001", publicKeyHash: hash, nonce: "bm9uY2UtZm9yLXRlc3Rz",
            timestamp: "2026-11-21T10:00:00.123Z",
            geographicRegion: GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edge-agent", version: "1.0.0", instanceID: "i-1"),
                samples: [
                    MetricSample(
                        timestamp: "2026-11-21T09:59:59.000Z", metricType: "system",
                        values: ["cpu_percent": 12.5, "memory_used_bytes": 1_048_576])
                ]))
    }
}
