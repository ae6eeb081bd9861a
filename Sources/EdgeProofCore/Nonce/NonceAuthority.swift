import Crypto
import Foundation

/// Issues and checks single-use nonces as stateless MAC-authenticated tokens, so a nonce issued by
/// any collector holding the shared key is accepted by all of them.
///
/// Token (50 bytes, base64url):
/// `version(1) ‖ key id(1) ‖ expiry ms since 1970 (8, big-endian) ‖ key hash prefix(8) ‖ random(16) ‖ mac(16)`,
/// where mac = HMAC-SHA256(key, first 34 bytes ‖ full 32-byte key hash) truncated to 16 bytes.
/// The key-hash prefix only lets a mismatch be reported as such; the MAC binds the whole hash.
public struct NonceAuthority: Sendable {
    public let keyring: NonceKeyring
    /// How long an issued nonce stays valid.
    public let lifetime: Duration

    public static let defaultLifetime = Duration.seconds(300)
    static let version: UInt8 = 1
    static let tokenLength = 50
    static let macLength = 16
    static let authenticatedLength = tokenLength - macLength

    public init(keyring: NonceKeyring, lifetime: Duration = defaultLifetime) {
        self.keyring = keyring
        self.lifetime = lifetime
    }

    /// A fresh nonce bound to `keyHash`, from the CSPRNG.
    public func issue(for keyHash: PublicKeyHash, now: Date = Date()) -> IssuedNonce {
        var random = SystemRandomNumberGenerator()
        var randomBytes = [UInt8](repeating: 0, count: 16)
        for index in randomBytes.indices { randomBytes[index] = random.next() }
        let expiry = now.addingTimeInterval(TimeInterval(lifetime.components.seconds))
        let expiryMillis = UInt64(max(0, (expiry.timeIntervalSince1970 * 1000).rounded(.down)))

        var token = [UInt8]()
        token.reserveCapacity(Self.tokenLength)
        token.append(Self.version)
        token.append(keyring.current.id)
        withUnsafeBytes(of: expiryMillis.bigEndian) { token.append(contentsOf: $0) }
        token.append(contentsOf: keyHash.bytes.prefix(8))
        token.append(contentsOf: randomBytes)
        token.append(contentsOf: Self.mac(token[...], keyHash: keyHash, key: keyring.current).prefix(Self.macLength))
        return IssuedNonce(
            token: Base64URL.encode(token), expiresAt: Date(timeIntervalSince1970: Double(expiryMillis) / 1000))
    }

    /// Checks format, key id, binding to `keyHash`, MAC and expiry, in that order, so that a
    /// reported expiry is never from a forged token. Does not check single use: see ``ReplayCache``.
    public func validate(_ token: String, for keyHash: PublicKeyHash, now: Date = Date()) throws(ValidationFailure)
        -> ValidNonce
    {
        guard let bytes = Self.tokenBytes(token), bytes[0] == Self.version else {
            throw ValidationFailure(.nonceInvalid, "nonce is not a token this collector issues")
        }
        guard let key = keyring.key(withID: bytes[1]) else {
            throw ValidationFailure(
                .nonceInvalid, "nonce was made with unknown key id \(bytes[1])", details: ["key_id": .number(Double(bytes[1]))])
        }
        guard keyHash.withUnsafeBytes({ bytes[10..<18].elementsEqual($0.prefix(8)) }) else {
            throw ValidationFailure(.nonceAgentMismatch, "nonce was issued to a different key than the envelope's")
        }
        let expected = Self.mac(bytes[..<Self.authenticatedLength], keyHash: keyHash, key: key)
        guard Self.constantTimeEqual(expected.prefix(Self.macLength), bytes[Self.authenticatedLength...]) else {
            throw ValidationFailure(.nonceInvalid, "nonce authentication code does not verify")
        }
        let expiryMillis = bytes[2..<10].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let expiresAt = Date(timeIntervalSince1970: Double(expiryMillis) / 1000)
        guard expiresAt > now else {
            let ago = Int(now.timeIntervalSince(expiresAt).rounded(.up))
            throw ValidationFailure(
                .nonceExpired, "nonce expired \(ago) s ago", details: ["expires_at": .string(Timestamp.string(from: expiresAt))])
        }
        return ValidNonce(id: NonceID(keyID: bytes[1], random: bytes[18..<34]), expiresAt: expiresAt)
    }

    /// The expiry a token carries, read without checking its MAC: for consistency checks by parties that
    /// do not hold the nonce key (the gateway), never for deciding validity.
    public static func claimedExpiry(of token: String) -> Date? {
        guard let bytes = tokenBytes(token), bytes[0] == version else { return nil }
        let expiryMillis = bytes[2..<10].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: Double(expiryMillis) / 1000)
    }

    /// The token's bytes, decoded straight from the string's UTF-8; nil unless it is base64url of
    /// exactly ``tokenLength`` bytes.
    private static func tokenBytes(_ token: String) -> [UInt8]? {
        guard token.utf8.count <= 128 else { return nil }
        var token = token
        guard let bytes = token.withUTF8({ Base64URL.decodeBytes($0) }), bytes.count == tokenLength else { return nil }
        return bytes
    }

    private static func mac(_ authenticated: ArraySlice<UInt8>, keyHash: PublicKeyHash, key: NonceKey) -> [UInt8] {
        var hmac = key.keyedMAC
        authenticated.withUnsafeBytes { hmac.update(data: $0) }
        keyHash.withUnsafeBytes { hmac.update(data: $0) }
        return hmac.finalize().withUnsafeBytes { Array($0) }
    }

    /// The MAC is truncated, so swift-crypto's full-length comparison does not apply; compare
    /// without an early exit instead.
    private static func constantTimeEqual(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
        return difference == 0
    }
}

/// A nonce as handed to an agent.
public struct IssuedNonce: Sendable, Hashable {
    public let token: String
    public let expiresAt: Date
}

/// A nonce that passed ``NonceAuthority/validate(_:for:now:)``: its identity for the replay cache.
public struct ValidNonce: Sendable, Hashable {
    public let id: NonceID
    public let expiresAt: Date
}

/// The identity of a nonce in the replay cache: key id and its 128 random bits.
public struct NonceID: Sendable, Hashable, CustomStringConvertible {
    public let keyID: UInt8
    public let high: UInt64
    public let low: UInt64

    public init(keyID: UInt8, high: UInt64, low: UInt64) {
        self.keyID = keyID
        self.high = high
        self.low = low
    }

    init(keyID: UInt8, random: ArraySlice<UInt8>) {
        precondition(random.count == 16, "nonce randomness is 16 bytes")
        self.keyID = keyID
        self.high = random.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        self.low = random.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    public var description: String {
        let hex = { (value: UInt64) in
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return "\(keyID):\(hex(high))\(hex(low))"
    }
}
