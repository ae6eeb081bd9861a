import EdgeProofTesting
import Foundation
import Testing

@testable import EdgeProofCore

@Suite("Base64url codec")
struct Base64URLTests {
    /// The previous implementation, through Foundation: the reference the table-driven codec must match.
    private static func referenceEncode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.last == "=" { text.removeLast() }
        return text
    }

    private static func referenceDecode(_ text: String) -> Data? {
        let utf8 = text.utf8
        guard utf8.count % 4 != 1 else { return nil }
        var standard = [UInt8]()
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
        guard referenceEncode(Array(decoded)).utf8.elementsEqual(utf8) else { return nil }
        return decoded
    }

    @Test("encodes as Foundation's base64 with the URL alphabet and no padding, every length to 300")
    func encodesAsFoundation() {
        var random = SplitMix64(seed: 3)
        for length in 0...300 {
            let bytes = random.bytes(length)
            #expect(Base64URL.encode(bytes) == Self.referenceEncode(bytes))
        }
    }

    @Test("decodes, and refuses, exactly as the Foundation-based reference on 50,000 near-base64url strings")
    func decodesAsReference() {
        var random = SplitMix64(seed: 5)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let odd = Array("=+/ .\n\u{7F}".utf8) + [0xC3, 0xA9]
        var decoded = 0
        for round in 0..<50_000 {
            var bytes = (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            if round % 10 == 0, !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = odd.randomElement(using: &random)!
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let result = Base64URL.decode(text)
            #expect(result == Self.referenceDecode(text), "\(text)")
            if result != nil { decoded += 1 }
        }
        #expect(decoded > 5_000)
    }

    @Test("refuses non-zero unused bits in the last character", arguments: ["AB", "AAB", "QR", "QUJ"])
    func refusesNonCanonicalTails(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}
