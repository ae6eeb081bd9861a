import Crypto
import Foundation

/// `tpm_public_key_hash`: lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo, the same
/// value as `openssl pkey -pubin -outform DER | sha256sum`. Also the JWS `kid`.
public struct PublicKeyHash: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    public init(subjectPublicKeyInfo der: some DataProtocol) {
        self.bytes = Array(SHA256.hash(data: Data(der)))
    }

    /// Parses 64 hex digits (either case); nil for anything else.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 64,
            let bytes = hex.utf8.withContiguousStorageIfAvailable({ Self.bytes(hex: $0) })
                ?? Array(hex.utf8).withUnsafeBufferPointer({ Self.bytes(hex: $0) })
        else { return nil }
        self.bytes = bytes
    }

    /// The 32 bytes of 64 hex digits; nil if any is not a hex digit.
    private static func bytes(hex utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: 32) { bytes, initialized in
            nibbles.withUnsafeBufferPointer { nibbles in
                for index in 0..<32 {
                    let high = nibbles[Int(utf8[2 * index])], low = nibbles[Int(utf8[2 * index + 1])]
                    if (high | low) & 0xF0 != 0 { valid = false }
                    bytes[index] = high << 4 | low & 0x0F
                }
            }
            initialized = 32
        }
        return valid ? bytes : nil
    }

    /// The value of each hex digit, 0xFF for every other byte.
    private static let nibbles: [UInt8] = (0...255).map { nibble(UInt8($0)) ?? 0xFF }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = PublicKeyHash(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "public key hash must be 64 hex digits")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): char - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
