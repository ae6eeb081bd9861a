import Crypto
import Foundation

/// A secret the collectors share to authenticate nonces, with a one-byte id so keys can rotate:
/// new nonces use the current key, older keys stay accepted until their nonces have expired.
public struct NonceKey: Sendable {
    public let id: UInt8
    /// HMAC already keyed with the secret: keying costs as much as the MAC of a whole token, and every
    /// envelope's nonce is checked.
    let keyedMAC: HMAC<SHA256>

    public static let minimumSecretLength = 32

    public init(id: UInt8, secret: some ContiguousBytes) throws(NonceKeyError) {
        let key = SymmetricKey(data: secret)
        guard key.bitCount / 8 >= Self.minimumSecretLength else {
            throw NonceKeyError("nonce key \(id) has \(key.bitCount / 8) bytes; at least \(Self.minimumSecretLength) are required")
        }
        self.id = id
        self.keyedMAC = HMAC(key: key)
    }

    /// A key for another purpose derived from this secret (HMAC-SHA256 of the purpose label, a PRF): one key
    /// file serves several shared secrets, e.g. the registrars' enrollment token key (`purpose` distinct per use).
    public func derivedKey(purpose: String) -> SymmetricKey {
        var mac = keyedMAC
        mac.update(data: Data("edgeproof derived key: \(purpose)".utf8))
        return SymmetricKey(data: Data(mac.finalize()))
    }

    /// A fresh random key.
    public static func random(id: UInt8) -> NonceKey {
        let key = SymmetricKey(size: .bits256)
        return key.withUnsafeBytes { bytes in
            // A 32-byte key always satisfies the length check.
            guard let nonceKey = try? NonceKey(id: id, secret: Array(bytes)) else { fatalError("256-bit key rejected") }
            return nonceKey
        }
    }
}

/// The keys a collector knows: one to issue with, all to accept.
public struct NonceKeyring: Sendable {
    public let current: NonceKey
    private let byID: [UInt8: NonceKey]

    /// `current` issues new nonces; `previous` keys are still accepted.
    public init(current: NonceKey, previous: [NonceKey] = []) throws(NonceKeyError) {
        var byID = [current.id: current]
        for key in previous {
            guard byID[key.id] == nil else { throw NonceKeyError("nonce key id \(key.id) is used twice") }
            byID[key.id] = key
        }
        self.current = current
        self.byID = byID
    }

    public func key(withID id: UInt8) -> NonceKey? {
        byID[id]
    }
}

public struct NonceKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
