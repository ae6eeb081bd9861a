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
}
