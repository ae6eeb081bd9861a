/// A TPM persistent object handle in the owner hierarchy's range, 0x81000000–0x817FFFFF, where
/// `TPM2_EvictControl` with owner authorization may store keys.
public struct PersistentHandle: Sendable, Hashable, LosslessStringConvertible {
    public let rawValue: UInt32

    /// The owner hierarchy's persistent handles (TCG "Registry of Reserved TPM 2.0 Handles").
    public static let ownerRange: ClosedRange<UInt32> = 0x8100_0000...0x817F_FFFF

    /// The blocks the TCG registry reserves for primary keys: storage (SRK, 0x81000001) and endorsement
    /// (EK, 0x81010001 and up). EdgeProof's keys are neither, so they live outside both.
    public static let storagePrimaryKeyRange: ClosedRange<UInt32> = 0x8100_0000...0x8100_FFFF
    public static let endorsementKeyRange: ClosedRange<UInt32> = 0x8101_0000...0x8101_FFFF

    /// Where EdgeProof keeps the agent's signing key unless told otherwise.
    public static let defaultSigningKey = PersistentHandle(unchecked: 0x8102_0010)
    /// Where `edgeproof enroll` keeps the attestation key (AK) unless told otherwise.
    public static let defaultAttestationKey = PersistentHandle(unchecked: 0x8102_0011)
    /// The signing key's default before it moved out of the EK block. A persistent key cannot be moved
    /// (its private part never leaves the TPM), so an install whose key is there keeps using it.
    public static let legacySigningKey = PersistentHandle(unchecked: 0x8101_0010)

    /// Whether the handle is in a block the TCG registry reserves for primary keys.
    public var isReservedForPrimaryKeys: Bool {
        Self.storagePrimaryKeyRange.contains(rawValue) || Self.endorsementKeyRange.contains(rawValue)
    }

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
