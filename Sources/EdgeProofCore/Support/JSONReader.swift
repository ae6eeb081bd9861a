/// A strict, allocation-light reader for the well-formed JSON that agents send, used by the
/// envelope's fast path.
///
/// It understands only a subset, and on anything else it gives up (``Unsupported``) rather than
/// guess: the caller then runs `JSONDecoder`, which accepts or rejects with its own answer. So every
/// value this reader returns must be exactly what `JSONDecoder` would give for the same bytes, and
/// whatever it cannot promise that for it refuses:
/// - a duplicate key (Foundation keeps the first), a key with an escape;
/// - a raw control character, invalid UTF-8, a lone surrogate escape;
/// - a number outside the JSON grammar, one that overflows or underflows a `Double`, a zero with an
///   exponent, an integer
///   with a fraction or exponent (for `Int` fields);
/// - nesting deeper than ``JSONNesting/maximumDepth`` (counted as that pre-scan counts), a byte
///   order mark, anything after the top-level value.
struct JSONReader {
    /// The input is outside what this reader promises to read exactly as `JSONDecoder` does.
    struct Unsupported: Error {}

    /// An object member's key, as its raw bytes (keys with escapes are refused).
    struct Key {
        let bytes: UnsafeBufferPointer<UInt8>

        static func == (key: Key, literal: StaticString) -> Bool {
            guard key.bytes.count == literal.utf8CodeUnitCount else { return false }
            let expected = literal.utf8Start
            for index in 0..<key.bytes.count where key.bytes[index] != expected[index] { return false }
            return true
        }

        var string: String { String(decoding: bytes, as: UTF8.self) }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Reads one whole document with `body`, which must consume exactly its top-level value.
    static func read<T>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (inout JSONReader) throws(Unsupported) -> T
    ) -> T? {
        var reader = JSONReader(bytes)
        do {
            let value = try body(&reader)
            reader.skipWhitespace()
            guard reader.index == bytes.count else { return nil }
            return value
        } catch {
            return nil
        }
    }

    // MARK: Structure

    /// Reads one value with `body` and returns, beside what `body` made of it, where the value's bytes
    /// are: from its first byte to its last, without the whitespace around it.
    mutating func readKeepingRange<T>(
        _ body: (inout JSONReader) throws(Unsupported) -> T
    ) throws(Unsupported) -> (value: T, range: Range<Int>) {
        skipWhitespace()
        let start = index
        let value = try body(&self)
        return (value, start..<index)
    }

    /// Reads an object, calling `member` with each key; `member` must read or skip the value.
    mutating func readObject(_ member: (inout JSONReader, Key) throws(Unsupported) -> Void) throws(Unsupported) {
        try enter(UInt8(ascii: "{"))
        if try consumeIfNext(UInt8(ascii: "}")) {
            depth -= 1
            return
        }
        while true {
            let key = try readKey()
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
            if try consumeIfNext(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "}"))
            depth -= 1
            return
        }
    }

    /// Reads an array, calling `element` once per element; `element` must read the value.
    mutating func readArray(_ element: (inout JSONReader) throws(Unsupported) -> Void) throws(Unsupported) {
        try enter(UInt8(ascii: "["))
        if try consumeIfNext(UInt8(ascii: "]")) {
            depth -= 1
            return
        }
        while true {
            try element(&self)
            if try consumeIfNext(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "]"))
            depth -= 1
            return
        }
    }

    /// Consumes `null` if it is next; leaves anything else unread.
    mutating func readNullIfPresent() throws(Unsupported) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    // MARK: Scalars

    mutating func readString() throws(Unsupported) -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        var needsValidation = false
        while true {
            skipPlainStringBytes()
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                guard needsValidation else { return String(decoding: content, as: UTF8.self) }
                guard let text = String(validating: content, as: UTF8.self) else { throw Unsupported() }
                return text
            }
            if byte == UInt8(ascii: "\\") { return try readEscapedString(from: start) }
            guard byte >= 0x20 else { throw Unsupported() }
            if byte >= 0x80 { needsValidation = true }
            index += 1
        }
        throw Unsupported()
    }

    /// A string with escapes: decoded into a buffer, then validated as a whole.
    private mutating func readEscapedString(from start: Int) throws(Unsupported) -> String {
        var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: decoded, as: UTF8.self) else { throw Unsupported() }
                return text
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw Unsupported() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"): append(try readUnicodeEscape(), to: &decoded)
                default: throw Unsupported()
                }
            case 0..<0x20:
                throw Unsupported()
            default:
                decoded.append(byte)
            }
        }
        throw Unsupported()
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uXXXX` low surrogate after it.
    private mutating func readUnicodeEscape() throws(Unsupported) -> Unicode.Scalar {
        let first = try readHex4()
        switch first {
        case 0xD800..<0xDC00:
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else { throw Unsupported() }
            index += 2
            let second = try readHex4()
            guard (0xDC00..<0xE000).contains(second),
                let scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            else { throw Unsupported() }
            return scalar
        default:
            guard let scalar = Unicode.Scalar(first) else { throw Unsupported() }  // a lone low surrogate
            return scalar
        }
    }

    private mutating func readHex4() throws(Unsupported) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Unsupported() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Unsupported()
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private func append(_ scalar: Unicode.Scalar, to decoded: inout [UInt8]) {
        UTF8.encode(scalar) { decoded.append($0) }
    }

    /// A JSON number that fits a `Double` exactly as Foundation parses it (correctly rounded).
    mutating func readDouble() throws(Unsupported) -> Double {
        let number = try scanNumber()
        let text = UnsafeBufferPointer(rebasing: bytes[number.range])
        var value: Double
        if !number.hasExponent, number.digits <= 15 {
            // Exact integer mantissa and an exact power of ten: one correctly rounded division.
            var mantissa = 0
            var fractionDigits = 0
            var afterPoint = false
            for byte in text {
                switch byte {
                case UInt8(ascii: "."): afterPoint = true
                case UInt8(ascii: "-"): break
                default:
                    mantissa = mantissa * 10 + Int(byte - UInt8(ascii: "0"))
                    if afterPoint { fractionDigits += 1 }
                }
            }
            value = Double(mantissa) / Self.powersOfTen[fractionDigits]
            if number.isNegative { value = -value }
        } else {
            guard let parsed = Double(String(decoding: text, as: UTF8.self)) else { throw Unsupported() }
            value = parsed
        }
        // Foundation refuses overflow, underflow to zero, and (oddly) some zeros with an exponent
        // ("0e5", "-0.0e1"): zeros with an exponent and subnormals are left to it as well.
        guard value.isFinite, value == 0 ? !number.hasNonZeroDigit && !number.hasExponent : value.isNormal else {
            throw Unsupported()
        }
        return value
    }

    /// A JSON integer (no fraction, no exponent) of at most 18 digits.
    mutating func readInt() throws(Unsupported) -> Int {
        let number = try scanNumber()
        guard !number.hasFraction, !number.hasExponent, number.digits <= 18 else { throw Unsupported() }
        var value = 0
        for byte in bytes[number.range] where byte != UInt8(ascii: "-") {
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return number.isNegative ? -value : value
    }

    /// Any JSON value, as ``JSONValue`` decodes it.
    mutating func readValue() throws(Unsupported) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw Unsupported() }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "{"):
            var object: [String: JSONValue] = [:]
            try readObject { reader, key throws(Unsupported) in
                let value = try reader.readValue()
                guard object.updateValue(value, forKey: key.string) == nil else { throw Unsupported() }
            }
            return .object(object)
        case UInt8(ascii: "["):
            var array: [JSONValue] = []
            try readArray { reader throws(Unsupported) in array.append(try reader.readValue()) }
            return .array(array)
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try readDouble())
        }
    }

    // MARK: Lexing

    private struct Number {
        var range: Range<Int>
        var isNegative = false
        var hasFraction = false
        var hasExponent = false
        /// Mantissa digits, integer and fraction parts together.
        var digits = 0
        var hasNonZeroDigit = false
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func scanNumber() throws(Unsupported) -> Number {
        skipWhitespace()
        let start = index
        var number = Number(range: start..<start)
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            number.isNegative = true
            index += 1
        }
        let integerStart = index
        try scanDigits(into: &number)
        // No leading zeros.
        guard bytes[integerStart] != UInt8(ascii: "0") || index - integerStart == 1 else { throw Unsupported() }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            number.hasFraction = true
            try scanDigits(into: &number)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            number.hasExponent = true
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            var exponent = Number(range: index..<index)
            try scanDigits(into: &exponent)
        }
        number.range = start..<index
        return number
    }

    /// One or more digits.
    private mutating func scanDigits(into number: inout Number) throws(Unsupported) {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            if bytes[index] != UInt8(ascii: "0") { number.hasNonZeroDigit = true }
            index += 1
        }
        guard index > start else { throw Unsupported() }
        number.digits += index - start
    }

    private mutating func readKey() throws(Unsupported) -> Key {
        try expect(UInt8(ascii: "\""))
        let start = index
        var needsValidation = false
        while true {
            skipPlainStringBytes()
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let key = Key(bytes: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                index += 1
                // Keys name fields or metric values: refuse anything but valid UTF-8.
                if needsValidation, String(validating: key.bytes, as: UTF8.self) == nil { throw Unsupported() }
                return key
            }
            guard byte >= 0x20, byte != UInt8(ascii: "\\") else { throw Unsupported() }
            if byte >= 0x80 { needsValidation = true }
            index += 1
        }
        throw Unsupported()
    }

    /// Skips string bytes that need no attention (anything but `"`, `\\`, a control character or a
    /// byte of 0x80 and above) eight at a time; the byte loops handle the rest.
    private mutating func skipPlainStringBytes() {
        guard let base = bytes.baseAddress else { return }
        let ones: UInt64 = 0x0101_0101_0101_0101
        while index + 8 <= bytes.count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            let quote = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
            let backslash = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
            // High bits: a zero byte in `quote` or `backslash`, a byte below 0x20 (it borrows), a byte
            // of 0x80 and above. Borrows may flag a plain byte too, which only costs the byte loop.
            let flagged =
                ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | (word &- ones &* 0x20) | word
            guard flagged & (ones &* 0x80) == 0 else { return }
            index += 8
        }
    }

    private mutating func enter(_ open: UInt8) throws(Unsupported) {
        try expect(open)
        depth += 1
        guard depth <= JSONNesting.maximumDepth else { throw Unsupported() }
    }

    private mutating func literal(_ word: StaticString) throws(Unsupported) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
            UnsafeBufferPointer(rebasing: bytes[index..<index + count])
                .elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: count))
        else { throw Unsupported() }
        index += count
    }

    private mutating func expect(_ byte: UInt8) throws(Unsupported) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw Unsupported() }
        index += 1
    }

    private mutating func consumeIfNext(_ byte: UInt8) throws(Unsupported) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw Unsupported() }
        guard bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    private static let powersOfTen: [Double] = (0...15).map { exponent in
        (0..<exponent).reduce(1.0) { value, _ in value * 10 }
    }
}

extension JSONReader {
    /// The keys seen in one object, to refuse duplicates: known fields by number, others by name.
    struct Members {
        private var known: UInt32 = 0
        private var others: [String] = []

        /// Records known field number `field` (0–31); refuses it the second time.
        mutating func first(_ field: Int) throws(Unsupported) {
            let bit: UInt32 = 1 << field
            guard known & bit == 0 else { throw Unsupported() }
            known |= bit
        }

        /// A member the type does not know: `JSONDecoder` ignores it, so its value is only read.
        mutating func skip(_ key: Key, in reader: inout JSONReader) throws(Unsupported) {
            let name = key.string
            guard !others.contains(name) else { throw Unsupported() }
            others.append(name)
            _ = try reader.readValue()
        }
    }
}
