import Crypto
import Foundation

/// Marshals TPM structures by hand for tests, independently of the module's writer, so a parser bug cannot hide
/// behind the same bug in a shared encoder.
struct TPMBytesBuilder {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xff)] }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(value & 0xffff))
    }

    mutating func u64(_ value: UInt64) {
        u32(UInt32(value >> 32))
        u32(UInt32(value & 0xffff_ffff))
    }

    mutating func sized(_ data: some Collection<UInt8>) {
        u16(UInt16(data.count))
        bytes += data
    }

    /// A TPMT_PUBLIC of an ECC P-256 ECDSA-SHA256 key with nameAlg SHA-256.
    static func eccSigningPublic(_ key: P256.Signing.PublicKey, attributes: UInt32 = 0x0005_0072) -> [UInt8] {
        let point = key.x963Representation
        var builder = TPMBytesBuilder()
        builder.u16(0x0023)
        builder.u16(0x000B)
        builder.u32(attributes)
        builder.sized([UInt8]())
        builder.u16(0x0010)  // symmetric null
        builder.u16(0x0018)
        builder.u16(0x000B)  // ecdsa sha256
        builder.u16(0x0003)  // NIST P-256
        builder.u16(0x0010)  // kdf null
        builder.sized(point[1...32])
        builder.sized(point[33...64])
        return builder.bytes
    }

    /// A TPMS_ATTEST of a certify of `name` with `nonce` as extra data.
    static func certifyAttest(name: [UInt8], nonce: [UInt8], magic: UInt32 = 0xff54_4347) -> [UInt8] {
        var builder = TPMBytesBuilder()
        builder.u32(magic)
        builder.u16(0x8017)
        builder.sized([UInt8](repeating: 0xAB, count: 34))
        builder.sized(nonce)
        builder.u64(123_456)
        builder.u32(7)
        builder.u32(2)
        builder.u8(1)
        builder.u64(0x2019_0101_0000_0000)
        builder.sized(name)
        builder.sized([UInt8](repeating: 0xCD, count: 34))
        return builder.bytes
    }

    /// A TPMT_SIGNATURE of ECDSA-SHA256.
    static func ecdsaSignature(_ signature: P256.Signing.ECDSASignature) -> [UInt8] {
        let raw = [UInt8](signature.rawRepresentation)
        var builder = TPMBytesBuilder()
        builder.u16(0x0018)
        builder.u16(0x000B)
        builder.sized(raw[0..<32])
        builder.sized(raw[32..<64])
        return builder.bytes
    }
}
