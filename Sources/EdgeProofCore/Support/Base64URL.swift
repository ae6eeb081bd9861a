import Foundation

/// Base64url without padding (RFC 7515 §2), strict on decode: any character outside the
/// alphabet, padding, or an impossible length is rejected rather than skipped.
public enum Base64URL {
    public static func encode(_ bytes: some DataProtocol) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.last == "=" { text.removeLast() }
        return text
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
