import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@Suite("Signing time within the nonce's validity window")
struct TimestampWindowTests {
    private static let lifetime = Duration.seconds(300)
    private static let skew = Duration.seconds(60)

    /// An envelope signed at `signedAt` with a nonce issued at `issuedAt`, and the nonce as validated.
    private func envelope(signedAt: Date, issuedAt: Date) async throws -> (SignedEnvelope, ValidNonce) {
        let signer = try TestSigner.make(.es256)
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)), lifetime: Self.lifetime)
        let issued = authority.issue(for: signer.publicKeyHash, now: issuedAt)
        let claims = Fixtures.claims(keyHash: signer.publicKeyHash, nonce: issued.token, at: signedAt)
        let envelope = try await SignedEnvelope.sign(claims, with: signer)
        let nonce = try authority.validate(issued.token, for: signer.publicKeyHash, now: issuedAt)
        return (envelope, nonce)
    }

    private func reason(signedAt: Date, issuedAt: Date) async throws -> RejectionReason? {
        let (envelope, nonce) = try await envelope(signedAt: signedAt, issuedAt: issuedAt)
        return failureReason { () throws(ValidationFailure) in
            try envelope.checkTimestamp(within: nonce, lifetime: Self.lifetime, skew: Self.skew)
        }
    }

    @Test("a timestamp between the nonce's issue and expiry, or within the skew of either, is accepted")
    func acceptsTimestampsInsideTheWidenedWindow() async throws {
        let issued = Date()
        for offset in [-59.0, 0, 150, 300, 359] {
            #expect(try await reason(signedAt: issued.addingTimeInterval(offset), issuedAt: issued) == nil, "\(offset)")
        }
    }

    @Test("a timestamp far in the past or future is refused with timestamp_skew although the nonce is valid")
    func refusesTimestampsOutsideTheWindow() async throws {
        let issued = Date()
        let outside: [Date] = [
            issued.addingTimeInterval(-61), issued.addingTimeInterval(361),
            Date(timeIntervalSince1970: 978_307_200),  // 2001
            Date(timeIntervalSince1970: 4_070_908_800),  // 2099
        ]
        for signedAt in outside {
            #expect(try await reason(signedAt: signedAt, issuedAt: issued) == .timestampSkew, "\(signedAt)")
        }
    }

    @Test("the refusal says which side of the window the timestamp missed and by how much")
    func explainsTheRefusal() async throws {
        let issued = Date()
        let (envelope, nonce) = try await envelope(signedAt: issued.addingTimeInterval(-3600), issuedAt: issued)
        do {
            try envelope.checkTimestamp(within: nonce, lifetime: Self.lifetime, skew: Self.skew)
            Issue.record("accepted a timestamp an hour before its nonce")
        } catch {
            #expect(error.reason == .timestampSkew)
            #expect(error.message.contains("3600 s before its nonce was issued"), "\(error.message)")
        }
    }
}
