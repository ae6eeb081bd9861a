import Crypto
import EdgeProofCore
import Foundation

/// What a registrar verified at `begin` and must hold again at `finish`, sealed (ChaCha20-Poly1305) under a
/// key every registrar derives from the shared key file, so any registrar finishes what another began and
/// no registrar keeps state between the two round trips. The agent sees an opaque base64url string:
/// key id (1 byte) ‖ nonce ‖ ciphertext ‖ tag.
struct EnrollmentToken: Sendable, Hashable, Codable {
    var agent: String
    var ekPublicHash: PublicKeyHash
    var level: TrustLevel
    var ekIssuer: String?
    var ekSerial: String?
    var tpmVendor: TPMVendorInfo
    /// Base64 TPM2B_PUBLIC of the AK and the signing key (their Names are computed from these).
    var akPublic: String
    var signingKeyPublic: String
    /// Base64 of the credential's secret and of the certify nonce (also the token's single-use id).
    var secret: String
    var certifyNonce: String
    var pcrs: [Int]
    var requestedPlaces: [AllowedPlace]
    /// Seconds since 1970.
    var expires: Int64

    enum CodingKeys: String, CodingKey {
        case agent
        case ekPublicHash = "ek_hash"
        case level
        case ekIssuer = "ek_issuer"
        case ekSerial = "ek_serial"
        case tpmVendor = "tpm_vendor"
        case akPublic = "ak_public"
        case signingKeyPublic = "signing_key_public"
        case secret
        case certifyNonce = "certify_nonce"
        case pcrs
        case requestedPlaces = "requested_places"
        case expires
    }

    var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(expires)) }
}

/// Seals and opens ``EnrollmentToken``s with the keys of a ``NonceKeyring`` (the registrars' own key file, in
/// the nonce key file's format): the first key seals, every key opens (rotation).
struct EnrollmentTokenSealer: Sendable {
    private let keyring: NonceKeyring
    /// Each key's token key, derived once (an HMAC per token otherwise), by key id.
    private let tokenKeys: [UInt8: SymmetricKey]
    private let currentKey: SymmetricKey
    private static let purpose = "enrollment token"
    /// Bound into every seal, so a token is never mistaken for another sealed thing under the same key.
    private static let context = Data("edgeproof enrollment token v1".utf8)

    init(keyring: NonceKeyring) {
        self.keyring = keyring
        var tokenKeys = [UInt8: SymmetricKey]()
        for id in UInt8.min...UInt8.max {
            if let key = keyring.key(withID: id) { tokenKeys[id] = key.derivedKey(purpose: Self.purpose) }
        }
        self.tokenKeys = tokenKeys
        self.currentKey = keyring.current.derivedKey(purpose: Self.purpose)
    }

    func seal(_ token: EnrollmentToken) throws -> String {
        let plaintext = try WireJSON.encode(token)
        let box = try ChaChaPoly.seal(plaintext, using: currentKey, authenticating: Self.context)
        return Base64URL.encode(Data([keyring.current.id]) + box.combined)
    }

    /// The token, or nil when it is not one of ours (any key) or was altered.
    func open(_ text: String) -> EnrollmentToken? {
        guard let bytes = Base64URL.decode(text), let id = bytes.first,
            let key = tokenKeys[id],
            let box = try? ChaChaPoly.SealedBox(combined: bytes.dropFirst()),
            let plaintext = try? ChaChaPoly.open(box, using: key, authenticating: Self.context)
        else { return nil }
        return try? StrictJSONDecoder().decode(EnrollmentToken.self, from: plaintext)
    }
}
