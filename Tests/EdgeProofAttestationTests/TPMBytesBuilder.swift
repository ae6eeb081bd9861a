import Crypto
import Foundation

/// Marshals TPM structures by hand for tests, independently of the module's writer, so a parser bug cannot hide
/// behind the same bug in a shared encoder.
struct TPMBytesBuilder {
    private(set) var bytes: [UInt8] = []

    @discardableResult
    mutating func u8(_ value: UInt8) -> Self { bytes.append(value); return self }

    @discardableResult
    mutating func u16(_ value: UInt16) -> Self { bytes += [UInt8(value >> 8), UInt8(value & 0xff)]; return self }

    @discardableResult
    mutating func u32(_ value: UInt32) -> Self {
        u16(UInt16(value >> 16))
        return u16(UInt16(value & 0xffff))
    }

    @discardableResult
    mutating func u64(_ value: UInt64) -> Self {
        u32(UInt32(value >> 32))
        return u32(UInt32(value & 0xffff_ffff))
    }

    @discardableResult
    mutating func sized(_ data: some Collection<UInt8>) -> Self {
        u16(UInt16(data.count))
        bytes += data
        return self
    }

    /// A TPMT_PUBLIC of an ECC P-256 ECDSA-SHA256 key with nameAlg SHA-256.
    static func eccSigningPublic(_ key: P256.Signing.PublicKey, attributes: UInt32 = 0x0005_0072) -> [UInt8] {
        let point = key.x963Representation
        var builder = TPMBytesBuilder()
        builder.u16(0x0023).u16(0x000B).u32(attributes).sized([UInt8]())
        builder.u16(0x0010)  // symmetric null
        builder.u16(0x0018).u16(0x000B)  // ecdsa sha256
        builder.u16(0x0003)  // NIST P-256
        builder.u16(0x0010)  // kdf null
        builder.sized(point[1...32]).sized(point[33...64])
        return builder.bytes
    }

    /// A TPMS_ATTEST of a certify of `name` with `nonce` as extra data.
    static func certifyAttest(name: [UInt8], nonce: [UInt8], magic: UInt32 = 0xff54_4347) -> [UInt8] {
        var builder = TPMBytesBuilder()
        builder.u32(magic).u16(0x8017).sized([UInt8](repeating: 0xAB, count: 34)).sized(nonce)
        builder.u64(123_456).u32(7).u32(2).u8(1).u64(0x2019_0101_0000_0000)
        builder.sized(name).sized([UInt8](repeating: 0xCD, count: 34))
        return builder.bytes
    }

    /// A TPMT_SIGNATURE of ECDSA-SHA256.
    static func ecdsaSignature(_ signature: P256.Signing.ECDSASignature) -> [UInt8] {
        let raw = [UInt8](signature.rawRepresentation)
        var builder = TPMBytesBuilder()
        builder.u16(0x0018).u16(0x000B).sized(raw[0..<32]).sized(raw[32..<64])
        return builder.bytes
    }
}
