import Foundation

/// Base64url without padding (RFC 7515 §2), strict on decode: any character outside the
/// alphabet, padding, or an impossible length is rejected rather than skipped.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// One pass straight into the base64url alphabet: the agent encodes every envelope's header, claims
    /// and signature with it, and receivers every decoded value (the canonical check below).
    public static func encode(_ bytes: some DataProtocol) -> String {
        bytes.withContiguousStorageIfAvailable { encode(contiguous: $0) } ?? encode(contiguous: [UInt8](bytes))
    }

    private static func encode<Bytes: RandomAccessCollection<UInt8>>(contiguous input: Bytes) -> String
    where Bytes.Index == Int {
        var output = [UInt8]()
        output.reserveCapacity((input.count * 4 + 2) / 3)
        let table = alphabet
        var index = input.startIndex
        while index + 3 <= input.endIndex {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(table[Int(group >> 18)])
            output.append(table[Int(group >> 12 & 0x3F)])
            output.append(table[Int(group >> 6 & 0x3F)])
            output.append(table[Int(group & 0x3F)])
            index += 3
        }
        // The last one or two bytes: two or three characters, no padding.
        if index < input.endIndex {
            let second = index + 1 < input.endIndex ? UInt32(input[index + 1]) : 0
            let group = UInt32(input[index]) << 16 | second << 8
            output.append(table[Int(group >> 18)])
            output.append(table[Int(group >> 12 & 0x3F)])
            if index + 1 < input.endIndex { output.append(table[Int(group >> 6 & 0x3F)]) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Returns nil when `text` is not canonical unpadded base64url.
    public static func decode(_ text: some StringProtocol) -> Data? {
        let utf8 = text.utf8
        guard utf8.count % 4 != 1 else { return nil }
        var standard = [UInt8]()
        standard.reserveCapacity(utf8.count + 3)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                standard.append(byte)
            case UInt8(ascii: "-"): standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): standard.append(UInt8(ascii: "/"))
            default: return nil
            }
        }
        while standard.count % 4 != 0 { standard.append(UInt8(ascii: "=")) }
        guard let decoded = Data(base64Encoded: Data(standard)) else { return nil }
        // Reject non-canonical trailing bits so that one byte string has exactly one encoding.
        guard encode(decoded).utf8.elementsEqual(utf8) else { return nil }
        return decoded
    }
}
