import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@Suite("Properties against the signed claims")
struct EnvelopeChecksTests {
    private func envelope(nonce: String, quality: String? = "GNSS") async throws -> SignedEnvelope {
        let signer = try TestSigner.make(.es256)
        var claims = Fixtures.claims(keyHash: signer.publicKeyHash, nonce: nonce)
        claims.geolocation?.quality = quality
        return try await SignedEnvelope.sign(claims, with: signer)
    }

    @Test("the properties an agent attaches agree with its envelope")
    func acceptsTruthfulProperties() async throws {
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        let issued = authority.issue(for: PublicKeyHash(subjectPublicKeyInfo: [1]))
        let envelope = try await envelope(nonce: issued.token)
        try envelope.checkProperties([
            (EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: envelope.claims).headerValue),
            (EnvelopeProperty.signatureInput, SignatureInput(envelope: envelope, nonceExpiresAt: issued.expiresAt).headerValue),
        ])
    }

    @Test("a Signature-Input whose expires is not the nonce's expiry is a header mismatch")
    func rejectsWrongExpiry() async throws {
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        let issued = authority.issue(for: PublicKeyHash(subjectPublicKeyInfo: [1]))
        let envelope = try await envelope(nonce: issued.token)
        let stretched = SignatureInput(envelope: envelope, nonceExpiresAt: issued.expiresAt.addingTimeInterval(3600))
        #expect(failureReason { () throws(ValidationFailure) in
            try envelope.checkProperties([(EnvelopeProperty.signatureInput, stretched.headerValue)])
        } == .headerMismatch)
    }

    @Test("a Workload-Geo-ID claiming another location quality than the signed one is a header mismatch")
    func rejectsWrongQuality() async throws {
        let envelope = try await envelope(nonce: "n-1", quality: "manual")
        var geo = WorkloadGeoID(claims: envelope.claims)
        geo.clientWorkloadLocationQuality = "GNSS"
        #expect(failureReason { () throws(ValidationFailure) in
            try envelope.checkProperties([(EnvelopeProperty.workloadGeoID, geo.headerValue)])
        } == .headerMismatch)
    }
}
