import EdgeProofCore

extension TPMVendorInfo {
    /// TPM_PT_FIXED's tags read here (TPM 2.0 Part 2, 6.13).
    static let revision: UInt32 = 0x102
    static let manufacturerTag: UInt32 = 0x105
    static let vendorStrings: ClosedRange<UInt32> = 0x106...0x109
    static let firmwareVersions: ClosedRange<UInt32> = 0x10B...0x10C

    /// From the properties TPM2_GetCapability returned, by tag.
    init(properties: [UInt32: UInt32]) {
        let manufacturerWord = properties[Self.manufacturerTag] ?? 0
        self.init(
            manufacturer: Self.text([manufacturerWord]),
            manufacturerID: "id:" + String(manufacturerWord, radix: 16, uppercase: true).leftPadded(to: 8),
            vendorString: Self.text(Self.vendorStrings.map { properties[$0] ?? 0 }),
            firmwareVersion: Self.firmwareVersions.map { properties[$0] ?? 0 },
            specificationRevision: properties[Self.revision] ?? 0)
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
