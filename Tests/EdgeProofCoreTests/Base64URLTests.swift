import EdgeProofCore
import Foundation
import Testing

@Suite("Base64URL")
struct Base64URLTests {
    @Test(
        "encodes the RFC 4648 test vectors without padding and decodes them back",
        arguments: [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ])
    func encodesVectors(text: String, encoded: String) throws {
        #expect(Base64URL.encode(Data(text.utf8)) == encoded)
        #expect(try #require(Base64URL.decode(encoded)) == Data(text.utf8))
    }

    @Test("uses - and _ where base64 has + and /")
    func usesURLAlphabet() {
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.encode([0xFF, 0xFF, 0xFE]) == "___-")
    }

    @Test("agrees with Foundation's base64 (alphabet swapped, padding removed) for every length up to 300")
    func agreesWithFoundation() throws {
        var generator = SystemRandomNumberGenerator()
        for length in 0...300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let reference = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == reference, "length \(length)")
            #expect(Base64URL.decode(encoded) == Data(bytes), "length \(length)")
        }
    }
}
