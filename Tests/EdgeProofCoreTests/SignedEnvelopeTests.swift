import Crypto
import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing
import _CryptoExtras

@Suite("Signed envelope")
struct SignedEnvelopeTests {
    private func signed(_ algorithm: SignatureAlgorithm, samples: Int = 1) async throws
        -> (SignedEnvelope, AgentPublicKey, TestSigner)
    {
        let signer = try TestSigner.make(algorithm)
        let envelope = try await SignedEnvelope.sign(
            Fixtures.claims(keyHash: signer.publicKeyHash, samples: samples), with: signer)
        return (envelope, try signer.publicKey, signer)
    }

    private func expectFailure(
        _ reason: RejectionReason, _ body: () throws(ValidationFailure) -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            try body()
            Issue.record("expected \(reason.code), but validation passed", sourceLocation: sourceLocation)
        } catch {
            #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a signed envelope round-trips through its wire form and verifies", arguments: SignatureAlgorithm.allCases)
    func verifiesOwnSignature(algorithm: SignatureAlgorithm) async throws {
        let (envelope, key, _) = try await signed(algorithm)
        let received = try SignedEnvelope(parsing: envelope.serialized())
        try received.verifySignature(with: key)
        #expect(received.header.algorithm == algorithm)
        #expect(received.header.keyID == key.hash)
        #expect(received.claims == envelope.claims)
    }

    @Test("one signature covers a batch of samples, each keeping its capture time")
    func batchesSamples() async throws {
        let (envelope, key, _) = try await signed(.es256, samples: 50)
        let received = try SignedEnvelope(parsing: envelope.serialized())
        try received.verifySignature(with: key)
        #expect(received.claims.metrics.samples.count == 50)
        #expect(received.claims.metrics.samples.allSatisfy { Timestamp.date(from: $0.timestamp) != nil })
    }

    @Test("a changed metric under the original signature is rejected", arguments: SignatureAlgorithm.allCases)
    func rejectsTamperedPayload(algorithm: SignatureAlgorithm) async throws {
        let (envelope, key, _) = try await signed(algorithm)
        var claims = envelope.claims
        claims.metrics.samples[0].values["cpu_percent"] = 99
        let payload = Base64URL.encode(try JSONEncoder().encode(claims))
        let tampered = try SignedEnvelope(
            parsing: Fixtures.envelopeJSON(protected: envelope.protected, payload: payload, signature: envelope.signature))
        expectFailure(.badSignature) { () throws(ValidationFailure) in try tampered.verifySignature(with: key) }
    }

    @Test("a changed location under the original signature is rejected")
    func rejectsTamperedLocation() async throws {
        let (envelope, key, _) = try await signed(.es256)
        var claims = envelope.claims
        claims.geographicRegion = GeographicRegion(region: "US", state: "Texas", city: "Austin")
        let payload = Base64URL.encode(try JSONEncoder().encode(claims))
        let tampered = try SignedEnvelope(
            parsing: Fixtures.envelopeJSON(protected: envelope.protected, payload: payload, signature: envelope.signature))
        expectFailure(.badSignature) { () throws(ValidationFailure) in try tampered.verifySignature(with: key) }
    }

    @Test("an extra header member under the original signature is rejected")
    func rejectsTamperedHeader() async throws {
        let (envelope, key, _) = try await signed(.es256)
        let header = try Fixtures.json([
            "alg": "ES256", "kid": key.hash.hex, "typ": "edgeproof+jws", "x5u": "https://attacker.invalid",
        ])
        let tampered = try SignedEnvelope(
            parsing: Fixtures.envelopeJSON(
                protected: Base64URL.encode(header), payload: envelope.payload, signature: envelope.signature))
        expectFailure(.badSignature) { () throws(ValidationFailure) in try tampered.verifySignature(with: key) }
    }

    @Test("a header kid that differs from the signed key hash is a header mismatch")
    func rejectsKidMismatch() async throws {
        let (envelope, _, _) = try await signed(.es256)
        let other = try TestSigner.make(.es256).publicKeyHash
        let header = try Fixtures.json(["alg": "ES256", "kid": other.hex, "typ": "edgeproof+jws"])
        expectFailure(.headerMismatch) { () throws(ValidationFailure) in
            _ = try SignedEnvelope(
                parsing: Fixtures.envelopeJSON(
                    protected: Base64URL.encode(header), payload: envelope.payload, signature: envelope.signature))
        }
    }

    @Test("a signature by another key is rejected", arguments: SignatureAlgorithm.allCases)
    func rejectsWrongKey(algorithm: SignatureAlgorithm) async throws {
        let (envelope, _, _) = try await signed(algorithm)
        let otherKey: AgentPublicKey =
            switch algorithm {
            case .es256: try TestSigner.make(.es256).publicKey
            case .rs256:
                try AgentPublicKey(pemRepresentation: try TestSigner.sharedRSAKey(1).publicKey.pemRepresentation)
            }
        expectFailure(.badSignature) { () throws(ValidationFailure) in try envelope.verifySignature(with: otherKey) }
    }

    @Test("an alg that does not fit the allowlisted key type is rejected")
    func rejectsAlgorithmKeyMismatch() async throws {
        let (envelope, _, _) = try await signed(.es256)
        let rsaKey = try AgentPublicKey(pemRepresentation: try TestSigner.sharedRSAKey().publicKey.pemRepresentation)
        expectFailure(.unsupportedAlgorithm) { () throws(ValidationFailure) in try envelope.verifySignature(with: rsaKey) }
    }

    @Test("alg none, HS256 and a missing alg are refused before any key is used", arguments: ["none", "HS256", "ES384"])
    func rejectsUnsupportedAlgorithm(alg: String) async throws {
        let (envelope, key, _) = try await signed(.es256)
        let header = try Fixtures.json(["alg": alg, "kid": key.hash.hex, "typ": "edgeproof+jws"])
        expectFailure(.unsupportedAlgorithm) { () throws(ValidationFailure) in
            _ = try SignedEnvelope(
                parsing: Fixtures.envelopeJSON(protected: Base64URL.encode(header), payload: envelope.payload, signature: ""))
        }
    }

    @Test("a truncated signature is rejected", arguments: SignatureAlgorithm.allCases)
    func rejectsTruncatedSignature(algorithm: SignatureAlgorithm) async throws {
        let (envelope, key, _) = try await signed(algorithm)
        let truncated = Base64URL.encode(envelope.signatureBytes.dropLast(3))
        let received = try SignedEnvelope(
            parsing: Fixtures.envelopeJSON(protected: envelope.protected, payload: envelope.payload, signature: truncated))
        expectFailure(.badSignature) { () throws(ValidationFailure) in try received.verifySignature(with: key) }
    }

    @Test("verification is over the exact received bytes, whatever their JSON layout")
    func verifiesExactReceivedBytes() async throws {
        let signer = try TestSigner.make(.es256)
        let claims = Fixtures.claims(keyHash: signer.publicKeyHash)
        // Hand-written payload with unusual spacing and key order, as another JOSE library might produce.
        var object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(claims)) as? [String: Any])
        object["extension_field"] = "kept"
        let payloadJSON = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted])
        let protected = Base64URL.encode(try Fixtures.json(["typ": "edgeproof+jws", "kid": signer.publicKeyHash.hex, "alg": "ES256"]))
        let payload = Base64URL.encode(payloadJSON)
        let digest = SHA256.hash(data: Data("\(protected).\(payload)".utf8))
        let signature = Base64URL.encode(try await signer.signature(forDigest: digest))
        let received = try SignedEnvelope(
            parsing: Fixtures.envelopeJSON(protected: protected, payload: payload, signature: signature))
        try received.verifySignature(with: try signer.publicKey)
        #expect(received.claims.agentName == "agent-001")
    }

    @Test(
        "malformed envelopes get malformed_envelope with a specific message",
        arguments: [
            ("not json", "flattened JSON"),
            (#"{"protected":"e30","payload":"e30"}"#, #"missing member "signature""#),
            (#"{"protected":"e30=","payload":"e30","signature":"AA"}"#, "protected header is not base64url"),
            (#"{"protected":"e30","payload":"e30","signature":"AA"}"#, "no alg"),
            (#"[1,2,3]"#, "flattened JSON"),
            (#"{"protected":1,"payload":"e30","signature":"AA"}"#, "expected a string, found '1' in the envelope.protected"),
            (#"{"protected":"e30","payload":"e30","signature":"AA","header":{"kid":"x"}}"#, "in the envelope.header"),
        ])
    func rejectsMalformedEnvelope(input: String, expectedText: String) {
        do {
            _ = try SignedEnvelope(parsing: Data(input.utf8))
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.reason == .malformedEnvelope)
            #expect(error.message.contains(expectedText), "\(error.message)")
        }
    }

    @Test("claims with a missing field name that field")
    func namesMissingClaim() async throws {
        let (envelope, key, _) = try await signed(.es256)
        var object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(envelope.claims)) as? [String: Any])
        object.removeValue(forKey: "agent_name")
        let payload = Base64URL.encode(try JSONSerialization.data(withJSONObject: object))
        do {
            _ = try SignedEnvelope(
                parsing: Fixtures.envelopeJSON(protected: envelope.protected, payload: payload, signature: envelope.signature))
            Issue.record("accepted claims without agent_name")
        } catch {
            #expect(error.reason == .malformedEnvelope)
            #expect(error.message.contains("agent_name"))
        }
        _ = key
    }

    @Test("an oversized envelope is refused before parsing")
    func rejectsOversizedEnvelope() {
        let huge = Data(repeating: UInt8(ascii: "a"), count: SignedEnvelope.defaultMaximumSize + 1)
        do {
            _ = try SignedEnvelope(parsing: huge)
            Issue.record("accepted an oversized envelope")
        } catch {
            #expect(error.reason == .payloadTooLarge)
        }
    }

    @Test("claims in another contract version are refused")
    func rejectsUnknownVersion() async throws {
        let (envelope, _, _) = try await signed(.es256)
        var claims = envelope.claims
        claims.version = 2
        let payload = Base64URL.encode(try JSONEncoder().encode(claims))
        do {
            _ = try SignedEnvelope(
                parsing: Fixtures.envelopeJSON(protected: envelope.protected, payload: payload, signature: envelope.signature))
            Issue.record("accepted version 2")
        } catch {
            #expect(error.reason == .malformedEnvelope)
        }
    }
}
