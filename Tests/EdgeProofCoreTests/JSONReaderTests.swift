import EdgeProofTesting
import Foundation
import Testing

@testable import EdgeProofCore

@Suite("JSONReader: reads what JSONDecoder reads, to the same value, or gives up")
struct JSONReaderTests {
    /// The reader's value for `json`, or nil when it gives up.
    private func read(_ json: [UInt8]) -> JSONValue? {
        json.withUnsafeBufferPointer { bytes in
            JSONReader.read(bytes) { reader throws(JSONReader.Unsupported) in try reader.readValue() }
        }
    }

    /// Foundation's value for `json` through ``JSONValue``'s `Decodable`, or nil when it refuses.
    private func decode(_ json: [UInt8]) -> JSONValue? {
        (try? JSONDecoder().decode([String: JSONValue].self, from: Data(json))).map { .object($0) }
    }

    static let accepted: [String] = [
        #"{"k":1}"#, #"{"k":-0}"#, #"{"k":12.5}"#, #"{"k":0.42}"#, #"{"k":1234567890}"#, #"{"k":1e22}"#,
        #"{"k":1E+2}"#, #"{"k":-1.5e-3}"#, #"{"k":82.8000000000001}"#, #"{"k":0.30000000000000004}"#,
        #"{"k":9007199254740993}"#, #"{"k":123456789012345678901234567890}"#, #"{"k":3.141592653589793238462643}"#,
        #"{"k":1.7976931348623157e308}"#, #"{"k":2.2250738585072014e-308}"#, #"{"k":0.000001}"#,
        #"{"k":true}"#, #"{"k":false}"#, #"{"k":null}"#, #"{"k":"text"}"#, #"{"k":""}"#,
        #"{"k":"a\"b\\c\/d\b\f\n\r\t"}"#, #"{"k":"\u00e9\u0000\uD83D\uDE00"}"#, "{\"k\":\"Z\u{00FC}rich \u{1F600}\"}",
        "{\"k\":\"\u{7F}\"}", #"{"k":[]}"#, #"{"k":{}}"#, #"{"k":[1,"a",null,[true,{"x":[]}]]}"#,
        " \n\t\r{ \"k\" :\t[ 1 , 2 ] , \"j\" : { \"x\" : null } }\r\n ", #"{"a":1,"b":2,"c":{"a":1}}"#,
    ]

    @Test("takes the common forms, to JSONDecoder's value", arguments: accepted)
    func readsCommonForms(json: String) throws {
        let value = try #require(read(Array(json.utf8)), "the reader gave up on \(json)")
        #expect(value == decode(Array(json.utf8)))
    }

    static let refused: [String] = [
        // Foundation refuses these:
        #"{"k":1e400}"#, #"{"k":-1e400}"#, #"{"k":1e-400}"#, #"{"k":01}"#, #"{"k":1.}"#, #"{"k":.5}"#, #"{"k":1e}"#,
        #"{"k":+1}"#, #"{"k":NaN}"#, #"{"k":"\ud800"}"#, #"{"k":"\udc00x"}"#, #"{"k":"\x"}"#, #"{"k":"\u12"}"#,
        "{\"k\":\"a\u{01}b\"}", "{\"k\":\"a\nb\"}", #"{"k":tru}"#, #"{"k":1,}"#, #"{"k":[1,]}"#, #"{"k" 1}"#,
        #"{"k":1} x"#, #"{"k":1"#, #"{"k":"abc"#, "", " ",
        // Foundation takes these, differently or not: the reader leaves them to it.
        #"{"k":1,"k":2}"#, #"{"k\u0041":1}"#, #"{"k":{"a":1,"a":2}}"#, "\u{FEFF}{\"k\":1}", #"{"k":4.9e-324}"#,
        #"{"k":1e-310}"#,
        #"{"k":0e5}"#, #"{"k":0E1}"#, #"{"k":-0.0e1}"#, #"{"k":0e0}"#,
    ]

    @Test("gives up on what JSONDecoder refuses or might read otherwise", arguments: refused)
    func givesUpOnTheRest(json: String) {
        #expect(read(Array(json.utf8)) == nil)
    }

    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80],
    ]

    @Test("gives up on invalid UTF-8 in strings and keys", arguments: invalidUTF8)
    func givesUpOnInvalidUTF8(sequence: [UInt8]) {
        let inValue = Array(#"{"k":"a"#.utf8) + sequence + Array(#""}"#.utf8)
        let inKey = Array(#"{"a"#.utf8) + sequence + Array(#"":1}"#.utf8)
        #expect(read(inValue) == nil)
        #expect(read(inKey) == nil)
        #expect(decode(inValue) == nil)
    }

    @Test("nests up to the pre-scan's limit and no deeper")
    func limitsNesting() {
        func nested(_ depth: Int) -> [UInt8] {
            Array(("{\"k\":" + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}").utf8)
        }
        #expect(read(nested(JSONNesting.maximumDepth)) != nil)
        #expect(!JSONNesting.exceeds(in: nested(JSONNesting.maximumDepth)))
        #expect(read(nested(JSONNesting.maximumDepth + 1)) == nil)
        #expect(JSONNesting.exceeds(in: nested(JSONNesting.maximumDepth + 1)))
    }

    @Test("agrees with JSONDecoder on 20,000 random numbers")
    func agreesOnRandomNumbers() {
        var random = SplitMix64(seed: 11)
        var accepted = 0
        for _ in 0..<20_000 {
            var text = Bool.random(using: &random) ? "-" : ""
            let digits = Int.random(in: 1...25, using: &random)
            text += String((0..<digits).map { index in
                Character(String(index == 0 && digits > 1 ? Int.random(in: 1...9, using: &random) : Int.random(in: 0...9, using: &random)))
            })
            if Bool.random(using: &random) {
                text += "." + String((0..<Int.random(in: 1...20, using: &random)).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
            }
            if Int.random(in: 0..<3, using: &random) == 0 {
                text += ["e", "E", "e+", "e-", "E-"].randomElement(using: &random)! + String(Int.random(in: 0...330, using: &random))
            }
            let json = Array(#"{"k":\#(text)}"#.utf8)
            guard let value = read(json) else { continue }
            accepted += 1
            #expect(value == decode(json), "\(text)")
            if case .object(let object) = value, case .number(let number) = object["k"],
                case .object(let reference) = decode(json), case .number(let expected) = reference["k"]
            {
                #expect(number.bitPattern == expected.bitPattern, "\(text)")
            }
        }
        #expect(accepted > 15_000)
    }

    @Test("reads integers as Int decoding does, and gives up on fractions and exponents")
    func readsIntegers() {
        func int(_ text: String) -> Int? {
            Array(text.utf8).withUnsafeBufferPointer { bytes in
                JSONReader.read(bytes) { reader throws(JSONReader.Unsupported) in try reader.readInt() }
            }
        }
        #expect(int("1") == 1)
        #expect(int(" -0 ") == 0)
        #expect(int("-123456789012345678") == -123_456_789_012_345_678)
        #expect(int("1.0") == nil)
        #expect(int("1e0") == nil)
        #expect(int("9223372036854775808") == nil)
        #expect(int("\"1\"") == nil)
    }
}
