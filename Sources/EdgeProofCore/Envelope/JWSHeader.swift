/// The JWS protected header of an envelope.
public struct JWSHeader: Sendable, Hashable, Codable {
    public var algorithm: SignatureAlgorithm
    /// The signing key's ``PublicKeyHash``.
    public var keyID: PublicKeyHash
    public var type: String

    public static let envelopeType = "edgeproof+jws"

    enum CodingKeys: String, CodingKey {
        case algorithm = "alg"
        case keyID = "kid"
        case type = "typ"
    }

    public init(algorithm: SignatureAlgorithm, keyID: PublicKeyHash) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.type = Self.envelopeType
    }
}
