/// JWS algorithms the contract allows. Anything else, "none" included, is rejected.
public enum SignatureAlgorithm: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// ECDSA P-256 with SHA-256; signature is raw r‖s, 64 bytes.
    case es256 = "ES256"
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    case rs256 = "RS256"

    public var description: String { rawValue }
}
