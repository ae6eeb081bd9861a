/// Who made the TPM and what it runs, as TPM2_GetCapability reports it: the "TPM vendor info" an agent
/// sends when it enrolls. A registrar compares the manufacturer with the EK certificate's TPM manufacturer
/// attribute (`id:` and the same four bytes in hex), which the manufacturer's CA signed.
public struct TPMVendorInfo: Sendable, Hashable, Codable {
    /// TPM_PT_MANUFACTURER, the TCG vendor ID's four bytes as text without trailing NULs or spaces, e.g.
    /// "IBM" (libtpms, so swtpm), "INTC", "IFX", "STM", "NTC".
    public let manufacturer: String
    /// TPM_PT_MANUFACTURER as the EK certificate profile spells it: "id:" and eight hex digits.
    public let manufacturerID: String
    /// TPM_PT_VENDOR_STRING_1 to _4, joined, without trailing NULs or spaces.
    public let vendorString: String
    /// TPM_PT_FIRMWARE_VERSION_1 and _2 (their meaning is the vendor's).
    public let firmwareVersion: [UInt32]
    /// TPM_PT_REVISION: the specification revision times 100 (159 for 1.59).
    public let specificationRevision: UInt32

    public init(
        manufacturer: String, manufacturerID: String, vendorString: String, firmwareVersion: [UInt32],
        specificationRevision: UInt32
    ) {
        self.manufacturer = manufacturer
        self.manufacturerID = manufacturerID
        self.vendorString = vendorString
        self.firmwareVersion = firmwareVersion
        self.specificationRevision = specificationRevision
    }

    enum CodingKeys: String, CodingKey {
        case manufacturer
        case manufacturerID = "manufacturer_id"
        case vendorString = "vendor_string"
        case firmwareVersion = "firmware_version"
        case specificationRevision = "specification_revision"
    }

    /// TPM_PT_FIXED's tags read here (TPM 2.0 Part 2, 6.13).
    static let revision: UInt32 = 0x102
    static let manufacturerTag: UInt32 = 0x105
    static let vendorStrings: ClosedRange<UInt32> = 0x106...0x109
    static let firmwareVersions: ClosedRange<UInt32> = 0x10B...0x10C

    /// From the properties TPM2_GetCapability returned, by tag.
    init(properties: [UInt32: UInt32]) {
        let manufacturerWord = properties[Self.manufacturerTag] ?? 0
        manufacturer = Self.text([manufacturerWord])
        manufacturerID = "id:" + String(manufacturerWord, radix: 16, uppercase: true).leftPadded(to: 8)
        vendorString = Self.text(Self.vendorStrings.map { properties[$0] ?? 0 })
        firmwareVersion = Self.firmwareVersions.map { properties[$0] ?? 0 }
        specificationRevision = properties[Self.revision] ?? 0
    }

    /// Words as their big-endian bytes, printable ASCII kept, trailing NULs and spaces dropped.
    private static func text(_ words: [UInt32]) -> String {
        let bytes = words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
        let printable = bytes.map { (0x20...0x7E).contains($0) ? Character(Unicode.Scalar($0)) : " " }
        return String(printable).trimmingSuffix(while: { $0 == " " })
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }

    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return String(self[..<end])
    }
}

extension TPMDevice {
    /// The TPM's manufacturer, vendor strings, firmware and specification revision (TPM2_GetCapability,
    /// TPM_PT_FIXED).
    public func vendorInfo() throws(TPMError) -> TPMVendorInfo {
        try withContext { context throws(TPMError) in
            TPMVendorInfo(properties: try context.properties(from: TPMVendorInfo.revision, count: 11))
        }
    }
}
