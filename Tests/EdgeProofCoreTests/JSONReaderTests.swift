import EdgeProofTesting
import Foundation
import Testing

@testable import EdgeProofCore

@Suite("JSONReader: RFC 8259 and I-JSON exactly, the one reader of signed and deciding JSON")
struct JSONReaderTests {
    /// The reader's value for `json`, or its refusal.
    private func read(_ json: [UInt8]) -> Result<JSONValue, JSONRefusal> {
        json.withUnsafeBufferPointer { bytes in
            Result { () throws(JSONRefusal) in
                try JSONReader.read(bytes) { reader throws(JSONRefusal) in try reader.readValue() }
            }
        }
    }

    private func value(_ json: [UInt8]) -> JSONValue? {
        try? read(json).get()
    }

    /// Foundation's value for `json` through ``JSONValue``'s `Decodable`, or nil when it refuses.
    private func decode(_ json: [UInt8]) -> JSONValue? {
        (try? JSONDecoder().decode([String: JSONValue].self, from: Data(json))).map { .object($0) }
    }

    static let accepted: [String] = [
        #"{"k":1}"#, #"{"k":-0}"#, #"{"k":12.5}"#, #"{"k":0.42}"#, #"{"k":1234567890}"#, #"{"k":1e22}"#,
        #"{"k":1E+2}"#, #"{"k":-1.5e-3}"#, #"{"k":82.8000000000001}"#, #"{"k":0.30000000000000004}"#,
        #"{"k":9007199254740991}"#, #"{"k":-9007199254740991}"#, #"{"k":3.141592653589793238462643}"#,
        #"{"k":1.7976931348623157e308}"#, #"{"k":2.2250738585072014e-308}"#, #"{"k":0.000001}"#,
        #"{"k":9007199254740993.0}"#, #"{"k":true}"#, #"{"k":false}"#, #"{"k":null}"#, #"{"k":"text"}"#, #"{"k":""}"#,
        #"{"k":"a\"b\\c\/d\b\f\n\r\t"}"#, #"{"k":"\u00e9\u0000\uD83D\uDE00"}"#, "{\"k\":\"Z\u{00FC}rich \u{1F600}\"}",
        "{\"k\":\"\u{7F}\"}", #"{"k":[]}"#, #"{"k":{}}"#, #"{"k":[1,"a",null,[true,{"x":[]}]]}"#,
        " \n\t\r{ \"k\" :\t[ 1 , 2 ] , \"j\" : { \"x\" : null } }\r\n ", #"{"a":1,"b":2,"c":{"a":1}}"#,
        #"{"k\u0041":1}"#, #"{"a\u005fb":1,"ab":2}"#,
    ]

    @Test("takes valid JSON, to the value Foundation gives it", arguments: accepted)
    func readsValidJSON(json: String) throws {
        let value = try read(Array(json.utf8)).get()
        #expect(value == decode(Array(json.utf8)))
    }

    static let refused: [(json: String, words: String)] = [
        (#"{"k":1e400}"#, "overflows"), (#"{"k":-1e400}"#, "overflows"), (#"{"k":1e-400}"#, "underflows"),
        (#"{"k":4.9e-324}"#, "underflows"), (#"{"k":1e-310}"#, "underflows"), (#"{"k":0e5}"#, "zero with an exponent"),
        (#"{"k":-0.0e1}"#, "zero with an exponent"), (#"{"k":9007199254740992}"#, "2^53"),
        (#"{"k":123456789012345678901234567890}"#, "2^53"), (#"{"k":01}"#, "leading zero"), (#"{"k":1.}"#, "digit"),
        (#"{"k":.5}"#, "expected a value"), (#"{"k":1e}"#, "digit"), (#"{"k":+1}"#, "expected a value"),
        (#"{"k":NaN}"#, "expected a value"), (#"{"k":"\ud800"}"#, "lone surrogate"), (#"{"k":"\udc00x"}"#, "lone surrogate"),
        (#"{"k":"\ud800\u0041"}"#, "lone surrogate"), (#"{"k":"\x"}"#, "invalid escape"), (#"{"k":"\u12"}"#, "\\u escape"),
        ("{\"k\":\"a\u{01}b\"}", "control character"), ("{\"k\":\"a\nb\"}", "control character"),
        ("{\"a\u{01}\":1}", "control character"), (#"{"k":tru}"#, "expected a value"), (#"{"k":1,}"#, "trailing comma"),
        (#"{"k":[1,]}"#, "trailing comma"), (#"{"k":[1,,2]}"#, "expected a value"), (#"{,}"#, "member name"),
        (#"{"k" 1}"#, "expected ':'"), (#"{"k":1} x"#, "bytes after"), (#"{"k":1}{}"#, "bytes after"), (#"{"k":1"#, "end"),
        (#"{"k":"abc"#, "unterminated"), ("", "end"), (" ", "end"), (#"{"k":1,"k":2}"#, #"duplicate member "k""#),
        (#"{"k":1,"\u006b":2}"#, #"duplicate member "k""#), (#"{"k":{"a":1,"a":2}}"#, #"duplicate member "a" in the JSON text.k"#),
        (#"[{"a":1},{"b":[{"c":1,"c":1}]}]"#, #"duplicate member "c" in the JSON text[1].b[0]"#),
        ("\u{FEFF}{\"k\":1}", "byte order mark"), ("\u{0C}{}", "expected a value"), ("{}\u{A0}", "bytes after"),
    ]

    @Test("refuses what RFC 8259 or I-JSON refuse, and says what is wrong", arguments: refused)
    func refusesTheRest(json: String, words: String) {
        switch read(Array(json.utf8)) {
        case .success(let value): Issue.record("took \(json) as \(value)")
        case .failure(let refusal): #expect(refusal.description.contains(words), "\(json): \(refusal)")
        }
    }

    @Test("Foundation's JSONDecoder takes a trailing comma and one of two equal names: nothing signed goes through it")
    func foundationIsLenient() {
        #expect(decode(Array(#"{"k":1,}"#.utf8)) != nil)
        #expect(decode(Array(#"{"k":1,"k":2}"#.utf8)) != nil)
        #expect(value(Array(#"{"k":1,}"#.utf8)) == nil)
        #expect(value(Array(#"{"k":1,"k":2}"#.utf8)) == nil)
    }

    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80],
    ]

    @Test("refuses invalid UTF-8 in strings and names", arguments: invalidUTF8)
    func refusesInvalidUTF8(sequence: [UInt8]) {
        let inValue = Array(#"{"k":"a"#.utf8) + sequence + Array(#""}"#.utf8)
        let inKey = Array(#"{"a"#.utf8) + sequence + Array(#"":1}"#.utf8)
        #expect(value(inValue) == nil)
        #expect(value(inKey) == nil)
        #expect(decode(inValue) == nil)
    }

    @Test("nests up to the pre-scan's limit and no deeper")
    func limitsNesting() {
        func nested(_ depth: Int) -> [UInt8] {
            Array(("{\"k\":" + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}").utf8)
        }
        #expect(value(nested(JSONNesting.maximumDepth)) != nil)
        #expect(!JSONNesting.exceeds(in: nested(JSONNesting.maximumDepth)))
        #expect(value(nested(JSONNesting.maximumDepth + 1)) == nil)
        #expect(JSONNesting.exceeds(in: nested(JSONNesting.maximumDepth + 1)))
    }

    @Test("agrees with JSONDecoder, to the bit, on 20,000 random numbers it takes")
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
            guard let value = value(json) else { continue }
            accepted += 1
            #expect(value == decode(json), "\(text)")
            if case .object(let object) = value, case .number(let number) = object["k"],
                case .object(let reference) = decode(json), case .number(let expected) = reference["k"]
            {
                #expect(number.bitPattern == expected.bitPattern, "\(text)")
            }
        }
        #expect(accepted > 12_000)
    }

    @Test("reads Int fields as integer literals within ±(2^53 − 1) only")
    func readsIntegers() {
        func int(_ text: String) -> Int? {
            Array(text.utf8).withUnsafeBufferPointer { bytes in
                try? JSONReader.read(bytes) { reader throws(JSONRefusal) in try reader.readInt() }
            }
        }
        #expect(int("1") == 1)
        #expect(int(" -0 ") == 0)
        #expect(int("9007199254740991") == 9_007_199_254_740_991)
        #expect(int("-9007199254740991") == -9_007_199_254_740_991)
        #expect(int("9007199254740992") == nil)
        #expect(int("-123456789012345678") == nil)
        #expect(int("1.0") == nil)
        #expect(int("1e0") == nil)
        #expect(int("9223372036854775808") == nil)
        #expect(int("\"1\"") == nil)
    }
}
