import Crypto
import EdgeProofCore
import Foundation
import Synchronization
import Testing

@Suite("Nonces and the replay cache")
struct NonceTests {
    private let agentKey = PublicKeyHash(subjectPublicKeyInfo: Array("agent-001 key".utf8))
    private let otherKey = PublicKeyHash(subjectPublicKeyInfo: Array("agent-002 key".utf8))

    private func authority(keyID: UInt8 = 1, previous: [NonceKey] = []) throws -> NonceAuthority {
        NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: keyID), previous: previous))
    }

    @Test("an issued nonce validates for its agent until it expires")
    func validatesIssuedNonce() throws {
        let authority = try authority()
        let now = Date()
        let nonce = authority.issue(for: agentKey, now: now)
        #expect(abs(nonce.expiresAt.timeIntervalSince(now) - 300) < 1)
        let valid = try authority.validate(nonce.token, for: agentKey, now: now.addingTimeInterval(299))
        #expect(abs(valid.expiresAt.timeIntervalSince(nonce.expiresAt)) < 0.001)
    }

    @Test("every nonce is different")
    func noncesAreUnique() throws {
        let authority = try authority()
        let tokens = Set((0..<1000).map { _ in authority.issue(for: agentKey).token })
        #expect(tokens.count == 1000)
    }

    @Test("an expired nonce is rejected as expired")
    func rejectsExpiredNonce() throws {
        let authority = try authority()
        let now = Date()
        let nonce = authority.issue(for: agentKey, now: now)
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try authority.validate(nonce.token, for: agentKey, now: now.addingTimeInterval(301))
        } == .nonceExpired)
    }

    @Test("a nonce issued to another agent is rejected as a mismatch")
    func rejectsForeignAgentNonce() throws {
        let authority = try authority()
        let nonce = authority.issue(for: agentKey)
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try authority.validate(nonce.token, for: otherKey)
        } == .nonceAgentMismatch)
    }

    @Test("a nonce with any byte changed is rejected as invalid", arguments: [2, 9, 20, 33, 40, 49])
    func rejectsForgedNonce(byteIndex: Int) throws {
        let authority = try authority()
        let nonce = authority.issue(for: agentKey)
        var bytes = try #require(Base64URL.decode(nonce.token))
        bytes[byteIndex] ^= 0x01
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try authority.validate(Base64URL.encode(bytes), for: agentKey)
        } == .nonceInvalid)
    }

    @Test("a forged expiry cannot extend a nonce's life")
    func rejectsExtendedExpiry() throws {
        let authority = try authority()
        let now = Date()
        let nonce = authority.issue(for: agentKey, now: now)
        var bytes = try #require(Base64URL.decode(nonce.token))
        bytes[2] &+= 1  // pushes the expiry far into the future
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try authority.validate(Base64URL.encode(bytes), for: agentKey, now: now.addingTimeInterval(400))
        } == .nonceInvalid)
    }

    @Test("a nonce made with another collector group's key is rejected")
    func rejectsNonceFromOtherKey() throws {
        let ours = try authority(keyID: 1)
        let theirs = try authority(keyID: 1)
        let nonce = theirs.issue(for: agentKey)
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try ours.validate(nonce.token, for: agentKey)
        } == .nonceInvalid)
    }

    @Test("a nonce with an unknown key id is rejected, one from a rotated-out key is still accepted")
    func handlesKeyRotation() throws {
        let old = NonceKey.random(id: 1)
        let before = NonceAuthority(keyring: try NonceKeyring(current: old))
        let issuedBefore = before.issue(for: agentKey)
        let after = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 2), previous: [old]))
        _ = try after.validate(issuedBefore.token, for: agentKey)
        let unrelated = try authority(keyID: 9).issue(for: agentKey)
        do {
            _ = try after.validate(unrelated.token, for: agentKey)
            Issue.record("accepted a nonce with unknown key id")
        } catch {
            #expect(error.reason == .nonceInvalid)
            #expect(error.message.contains("unknown key id 9"))
        }
    }

    @Test("strings that were never issued are invalid", arguments: ["", "abc", String(repeating: "A", count: 67), "not base64!!"])
    func rejectsNeverIssued(token: String) throws {
        let authority = try authority()
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try authority.validate(token, for: agentKey)
        } == .nonceInvalid)
    }

    @Test("rotating the key twice with the same id is refused")
    func rejectsDuplicateKeyID() {
        #expect(throws: NonceKeyError.self) {
            _ = try NonceKeyring(current: NonceKey.random(id: 3), previous: [NonceKey.random(id: 3)])
        }
        #expect(throws: NonceKeyError.self) { _ = try NonceKey(id: 1, secret: [UInt8](repeating: 7, count: 16)) }
    }

    @Test("a nonce is used once: the same envelope again is recognised as stored, another envelope is a replay")
    func claimsOnce() throws {
        let authority = try authority()
        let cache = ReplayCache()
        let valid = try authority.validate(authority.issue(for: agentKey).token, for: agentKey)
        let original = EnvelopeFingerprint(signature: "original-signature")
        #expect(cache.claim(valid, fingerprint: original) == .claimed)
        #expect(cache.claim(valid, fingerprint: original) == .inProgress)
        #expect(cache.claim(valid, fingerprint: EnvelopeFingerprint(signature: "other")) == .replayed)
        let storedAt = Date()
        cache.commit(valid.id, storedAt: storedAt)
        #expect(cache.claim(valid, fingerprint: original) == .alreadyStored(at: storedAt))
        #expect(cache.claim(valid, fingerprint: EnvelopeFingerprint(signature: "other")) == .replayed)
        #expect(cache.contains(valid.id))
    }

    @Test(
        "the time a nonce's envelope was stored comes back exactly",
        arguments: [0, -0.0, -1.5, 817_000_000.123_456_7, Date.distantPast.timeIntervalSinceReferenceDate, .infinity])
    func keepsStoredAtExactly(secondsSince2001: Double) throws {
        let authority = try authority()
        let cache = ReplayCache()
        let valid = try authority.validate(authority.issue(for: agentKey).token, for: agentKey)
        let fingerprint = EnvelopeFingerprint(signature: "s")
        let storedAt = Date(timeIntervalSinceReferenceDate: secondsSince2001)
        #expect(cache.claim(valid, fingerprint: fingerprint) == .claimed)
        cache.commit(valid.id, storedAt: storedAt)
        let claim = cache.claim(valid, fingerprint: fingerprint)
        #expect(claim == .alreadyStored(at: storedAt))
        if case .alreadyStored(let at) = claim {
            #expect(at.timeIntervalSinceReferenceDate.bitPattern == secondsSince2001.bitPattern)
        }
    }

    @Test("of many concurrent claims of one nonce, exactly one wins")
    func claimIsAtomic() async throws {
        let authority = try authority()
        let cache = ReplayCache()
        let valid = try authority.validate(authority.issue(for: agentKey).token, for: agentKey)
        let winners = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask { cache.claim(valid, fingerprint: EnvelopeFingerprint(signature: "copy-\(index % 2)")) == .claimed }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
    }

    @Test("expired nonces leave memory; the cache stays bounded")
    func prunesExpired() throws {
        let authority = try authority()
        let cache = ReplayCache()
        let start = Date()
        for index in 0..<3000 {
            let valid = try authority.validate(authority.issue(for: agentKey, now: start).token, for: agentKey, now: start)
            #expect(cache.claim(valid, fingerprint: EnvelopeFingerprint(signature: "\(index)"), now: start) == .claimed)
            cache.commit(valid.id, storedAt: start)
        }
        #expect(cache.count == 3000)
        cache.prune(now: start.addingTimeInterval(301))
        #expect(cache.count == 0)
    }

    @Test("a released nonce can be claimed again; one being stored is never pruned")
    func releasesNonce() throws {
        let authority = try authority()
        let cache = ReplayCache()
        let now = Date()
        let valid = try authority.validate(authority.issue(for: agentKey, now: now).token, for: agentKey, now: now)
        let fingerprint = EnvelopeFingerprint(signature: "s")
        #expect(cache.claim(valid, fingerprint: fingerprint, now: now) == .claimed)
        cache.prune(now: now.addingTimeInterval(400))
        #expect(cache.claim(valid, fingerprint: fingerprint, now: now) == .inProgress)
        cache.release(valid.id)
        #expect(cache.claim(valid, fingerprint: fingerprint, now: now) == .claimed)
    }

    @Test("uses read back from records are remembered, expired ones dropped")
    func remembersRecordedUses() throws {
        let authority = try authority()
        let now = Date()
        let live = try authority.validate(authority.issue(for: agentKey, now: now).token, for: agentKey, now: now)
        let old = try authority.validate(
            authority.issue(for: agentKey, now: now.addingTimeInterval(-400)).token, for: agentKey, now: .distantPast)
        let fingerprint = EnvelopeFingerprint(signature: "s")
        let cache = ReplayCache()
        cache.remember(
            [live, old].map { RecordedNonceUse(id: $0.id, expiresAt: $0.expiresAt, fingerprint: fingerprint, storedAt: now) },
            now: now)
        #expect(cache.count == 1)
        #expect(cache.claim(live, fingerprint: fingerprint, now: now) == .alreadyStored(at: now))
    }
}
