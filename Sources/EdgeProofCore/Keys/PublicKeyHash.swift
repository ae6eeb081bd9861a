import Crypto
import Foundation

/// `tpm_public_key_hash`: lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo, the same
/// value as `openssl pkey -pubin -outform DER | sha256sum`. Also the JWS `kid`.
public struct PublicKeyHash: Sendable, Hashable, Codable, CustomStringConvertible {
    // The digest as four big-endian words, inline: a hash is a field of every allowlist entry and
    // key and a dictionary key, and a heap array per copy cost 80 bytes each.
    private let word0: UInt64
    private let word1: UInt64
    private let word2: UInt64
    private let word3: UInt64

    /// The 32 digest bytes.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Calls `body` with the 32 digest bytes, without making an array of them.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: (word0.bigEndian, word1.bigEndian, word2.bigEndian, word3.bigEndian), body)
    }

    public init(subjectPublicKeyInfo der: some DataProtocol) {
        let digest = SHA256.hash(data: Data(der))
        self = digest.withUnsafeBytes { Self(digest: $0) }
    }

    /// The 32 bytes of a SHA-256 digest, read as four big-endian words.
    private init(digest: UnsafeRawBufferPointer) {
        precondition(digest.count == 32, "a SHA-256 digest is 32 bytes")
        func word(_ index: Int) -> UInt64 {
            UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
        }
        self.init(word0: word(0), word1: word(1), word2: word(2), word3: word(3))
    }

    private init(word0: UInt64, word1: UInt64, word2: UInt64, word3: UInt64) {
        self.word0 = word0
        self.word1 = word1
        self.word2 = word2
        self.word3 = word3
    }

    /// Parses 64 hex digits in either case; nil for anything else. For what operators type (allowlist
    /// entries, `--hash` options); what arrives on the wire must be canonical (``init(canonicalHex:)``).
    public init?(hex: some StringProtocol) {
        self.init(hex: hex, digits: Self.nibbles)
    }

    /// Parses the canonical form only, exactly 64 lowercase hex digits, as `kid` and
    /// `tpm_public_key_hash` must be written: another spelling of the same hash is refused, not
    /// normalised, so that every reader of a signed envelope or a stored record sees the same bytes.
    public init?(canonicalHex hex: some StringProtocol) {
        self.init(hex: hex, digits: Self.lowercaseNibbles)
    }

    private init?(hex: some StringProtocol, digits: [UInt8]) {
        guard hex.utf8.count == 64,
            let hash = hex.utf8.withContiguousStorageIfAvailable({ Self(hexDigits: $0, table: digits) })
                ?? Array(hex.utf8).withUnsafeBufferPointer({ Self(hexDigits: $0, table: digits) })
        else { return nil }
        self = hash
    }

    /// The hash written as the 64 hex digits in `utf8`; nil if any is not a digit of `table`.
    private init?(hexDigits utf8: UnsafeBufferPointer<UInt8>, table: [UInt8]) {
        var valid = true
        func word(_ index: Int) -> UInt64 {
            table.withUnsafeBufferPointer { nibbles in
                var word: UInt64 = 0
                for digit in utf8[16 * index..<16 * (index + 1)] {
                    let nibble = nibbles[Int(digit)]
                    if nibble & 0xF0 != 0 { valid = false }
                    word = word << 4 | UInt64(nibble & 0x0F)
                }
                return word
            }
        }
        let hash = Self(word0: word(0), word1: word(1), word2: word(2), word3: word(3))
        guard valid else { return nil }
        self = hash
    }

    /// The value of each hex digit, 0xFF for every other byte.
    private static let nibbles: [UInt8] = (0...255).map { nibble(UInt8($0)) ?? 0xFF }
    /// The same for lowercase digits only.
    private static let lowercaseNibbles: [UInt8] = (0...255).map { byte in
        (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(UInt8(byte)) ? 0xFF : nibble(UInt8(byte)) ?? 0xFF
    }

    public var hex: String {
        String(unsafeUninitializedCapacity: 64) { out in
            Self.hexDigits.withUnsafeBufferPointer { digits in
                func put(_ word: UInt64, at offset: Int) {
                    for index in 0..<16 {
                        out[offset + index] = digits[Int(truncatingIfNeeded: word >> UInt64(60 - 4 * index)) & 0x0F]
                    }
                }
                put(word0, at: 0)
                put(word1, at: 16)
                put(word2, at: 32)
                put(word3, at: 48)
            }
            return 64
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

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
