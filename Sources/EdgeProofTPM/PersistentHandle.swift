/// A TPM persistent object handle in the owner hierarchy's range, 0x81000000–0x817FFFFF, where
/// `TPM2_EvictControl` with owner authorization may store keys.
public struct PersistentHandle: Sendable, Hashable, LosslessStringConvertible {
    public let rawValue: UInt32

    /// The owner hierarchy's persistent handles (TCG "Registry of Reserved TPM 2.0 Handles").
    public static let ownerRange: ClosedRange<UInt32> = 0x8100_0000...0x817F_FFFF

    /// Where EdgeProof keeps the agent's signing key unless told otherwise.
    public static let defaultSigningKey = PersistentHandle(unchecked: 0x8101_0010)

    public init(_ rawValue: UInt32) throws(TPMError) {
        guard Self.ownerRange.contains(rawValue) else { throw TPMError.handleOutOfRange(rawValue) }
        self.rawValue = rawValue
    }

    /// Parses hex with a `0x` prefix, as tpm2-tools prints handles: "0x81010010".
    public init(parsing text: String) throws(TPMError) {
        let digits = text.dropFirst(2)
        guard text.lowercased().hasPrefix("0x"), !digits.isEmpty, digits.allSatisfy(\.isHexDigit),
            let value = UInt32(digits, radix: 16)
        else {
            throw TPMError.invalidHandle(text)
        }
        try self.init(value)
    }

    /// As ``init(parsing:)``, nil instead of an error.
    public init?(_ description: String) {
        guard let handle = try? PersistentHandle(parsing: description) else { return nil }
        self = handle
    }

    private init(unchecked rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// "0x81010010".
    public var description: String {
        let digits = String(rawValue, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
