/// The one strict reader for every JSON document that is signed or decides: envelopes, protected
/// headers, claims, receipts, rejections, nonce requests and responses, the `Workload-Geo-ID`
/// property and stored records. Whatever it refuses, nothing else reads: there is no fallback.
///
/// It reads RFC 8259 exactly, with I-JSON (RFC 7493) on top, at every nesting level:
/// - member names are compared after unescaping, and a name twice in one object is refused
///   (`"a\u005fb"` is `"a_b"`), in typed objects (``Members``) and in open-ended values alike;
/// - no trailing commas, no byte order mark, nothing but whitespace after the top-level value;
/// - strings are valid UTF-8 without raw control characters; an escaped lone surrogate is refused;
/// - numbers: the RFC's grammar, and only what a double carries exactly enough that every reader
///   agrees: an integer literal beyond ±(2^53 − 1) is refused (I-JSON §2.2), as are a number that
///   overflows a double, one that underflows to zero or to a subnormal, and a zero with an exponent
///   (Foundation refuses those last ones, and stored records must stay readable by it). `Int` fields
///   take integer literals only (no fraction, no exponent) within ±(2^53 − 1);
/// - nesting at most ``JSONNesting/maximumDepth`` levels.
/// Every refusal is a ``JSONRefusal`` that says what was wrong and in which member.
struct JSONReader {
    /// An object member's name, as its bytes: the input's own, or for a name written with escapes its
    /// unescaped UTF-8, kept by the reader (plain bytes: reading a name costs no reference counting).
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

    /// Unescaped member names, alive as long as the reader: its keys point into them.
    private final class UnescapedNames {
        var buffers: [UnsafeMutableBufferPointer<UInt8>] = []

        func keep(_ name: String) -> UnsafeBufferPointer<UInt8> {
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: name.utf8.count)
            _ = buffer.initialize(from: name.utf8)
            buffers.append(buffer)
            return UnsafeBufferPointer(buffer)
        }

        deinit {
            for buffer in buffers { buffer.deallocate() }
        }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    /// The whole document being read.
    var document: UnsafeBufferPointer<UInt8> { bytes }
    private var index = 0
    private var depth = 0
    private var unescapedNames: UnescapedNames?

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// A reader of the value at `offset` of a document another reader has checked whole (see
    /// ``StrictJSONDecoder``): its refusals name offsets in that document.
    init(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) {
        self.bytes = bytes
        self.index = offset
    }

    /// Reads one whole document with `body`, which must consume exactly its top-level value.
    static func read<T>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (inout JSONReader) throws(JSONRefusal) -> T
    ) throws(JSONRefusal) -> T {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw JSONRefusal("a byte order mark before the JSON text", at: 0)
        }
        var reader = JSONReader(bytes)
        let value = try body(&reader)
        reader.skipWhitespace()
        guard reader.index == bytes.count else {
            throw JSONRefusal("bytes after the JSON value", at: reader.index)
        }
        return value
    }

    /// ``read(_:_:)`` over the bytes of `collection`, contiguous or not.
    static func read<T>(
        _ collection: some Collection<UInt8>, _ body: (inout JSONReader) throws(JSONRefusal) -> T
    ) throws(JSONRefusal) -> T {
        func run(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<T, JSONRefusal> {
            Result { () throws(JSONRefusal) in try read(buffer, body) }
        }
        let result = collection.withContiguousStorageIfAvailable(run) ?? Array(collection).withUnsafeBufferPointer(run)
        return try result.get()
    }

    // MARK: Structure

    /// Reads one value with `body` and returns, beside what `body` made of it, where the value's bytes
    /// are: from its first byte to its last, without the whitespace around it.
    mutating func readKeepingRange<T>(
        _ body: (inout JSONReader) throws(JSONRefusal) -> T
    ) throws(JSONRefusal) -> (value: T, range: Range<Int>) {
        skipWhitespace()
        let start = index
        let value = try body(&self)
        return (value, start..<index)
    }

    /// Reads an object, calling `member` with each name; `member` must read or skip the value. A
    /// refusal inside the value is reported as inside that member.
    mutating func readObject(_ member: (inout JSONReader, Key) throws(JSONRefusal) -> Void) throws(JSONRefusal) {
        try enter(UInt8(ascii: "{"), "expected an object")
        if try consumeIfNext(UInt8(ascii: "}")) {
            depth -= 1
            return
        }
        while true {
            let key = try readKey()
            try expect(UInt8(ascii: ":"))
            do {
                try member(&self, key)
            } catch {
                throw error.isAboutObject ? error.outsideMember() : error.inMember(key.string)
            }
            // A '}' where the next name should be is a trailing comma: readKey says so.
            if try consumeIfNext(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "}"), orSay: "expected ',' or '}'")
            depth -= 1
            return
        }
    }

    /// Reads an array, calling `element` once per element; `element` must read the value.
    mutating func readArray(_ element: (inout JSONReader) throws(JSONRefusal) -> Void) throws(JSONRefusal) {
        try enter(UInt8(ascii: "["), "expected an array")
        if try consumeIfNext(UInt8(ascii: "]")) {
            depth -= 1
            return
        }
        var count = 0
        while true {
            let start = index
            do {
                try element(&self)
            } catch {
                // Checked only on failure, to keep the common path short: ']' after a comma.
                index = start
                skipWhitespace()
                if count > 0, index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    throw JSONRefusal("trailing comma", at: index)
                }
                throw error.inElement(count)
            }
            count += 1
            if try consumeIfNext(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "]"), orSay: "expected ',' or ']'")
            depth -= 1
            return
        }
    }

    /// Whether the value at the reader's position is `null`, without consuming it.
    mutating func isNullNext() -> Bool {
        skipWhitespace()
        return index < bytes.count && bytes[index] == UInt8(ascii: "n")
    }

    /// Consumes `null` if it is next; leaves anything else unread.
    mutating func readNullIfPresent() throws(JSONRefusal) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    // MARK: Scalars

    mutating func readBool() throws(JSONRefusal) -> Bool {
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "f") else { throw unexpected("expected true or false") }
        try literal("false")
        return false
    }

    mutating func readString() throws(JSONRefusal) -> String {
        try expect(UInt8(ascii: "\""), orSay: "expected a string")
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
                guard let text = String(validating: content, as: UTF8.self) else {
                    throw JSONRefusal("invalid UTF-8 in a string", at: start)
                }
                return text
            }
            if byte == UInt8(ascii: "\\") { return try readEscapedString(from: start) }
            guard byte >= 0x20 else { throw JSONRefusal("a raw control character in a string", at: index) }
            if byte >= 0x80 { needsValidation = true }
            index += 1
        }
        throw JSONRefusal("unterminated string", at: start - 1)
    }

    /// A string with escapes: decoded into a buffer, then validated as a whole.
    private mutating func readEscapedString(from start: Int) throws(JSONRefusal) -> String {
        var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: decoded, as: UTF8.self) else {
                    throw JSONRefusal("invalid UTF-8 in a string", at: start)
                }
                return text
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"): UTF8.encode(try readUnicodeEscape()) { decoded.append($0) }
                default: throw JSONRefusal("an invalid escape in a string", at: index - 2)
                }
            case 0..<0x20:
                throw JSONRefusal("a raw control character in a string", at: index - 1)
            default:
                decoded.append(byte)
            }
        }
        throw JSONRefusal("unterminated string", at: start - 1)
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uXXXX` low surrogate after it.
    private mutating func readUnicodeEscape() throws(JSONRefusal) -> Unicode.Scalar {
        let escapeStart = index - 2
        let first = try readHex4()
        switch first {
        case 0xD800..<0xDC00:
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else { throw JSONRefusal("a lone surrogate escape in a string", at: escapeStart) }
            index += 2
            let second = try readHex4()
            guard (0xDC00..<0xE000).contains(second),
                let scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            else { throw JSONRefusal("a lone surrogate escape in a string", at: escapeStart) }
            return scalar
        default:
            // A lone low surrogate has no scalar.
            guard let scalar = Unicode.Scalar(first) else {
                throw JSONRefusal("a lone surrogate escape in a string", at: escapeStart)
            }
            return scalar
        }
    }

    private mutating func readHex4() throws(JSONRefusal) -> UInt32 {
        guard index + 4 <= bytes.count else { throw JSONRefusal("an invalid \\u escape in a string", at: index - 2) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONRefusal("an invalid \\u escape in a string", at: index)
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// The largest integer every I-JSON reader holds exactly, 2^53 − 1.
    static let largestExactInteger = 9_007_199_254_740_991

    /// A JSON number as a `Double`, correctly rounded; refused where readers could disagree (see the type).
    mutating func readDouble() throws(JSONRefusal) -> Double {
        let number = try scanNumber(expecting: "expected a number")
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
            guard let parsed = Double(String(decoding: text, as: UTF8.self)) else {
                throw JSONRefusal("a number a double cannot hold", at: number.range.lowerBound)
            }
            value = parsed
            if !number.hasFraction, !number.hasExponent, value.magnitude > Double(Self.largestExactInteger) {
                throw JSONRefusal(
                    "an integer beyond ±(2^53 − 1), which not every reader holds exactly", at: number.range.lowerBound)
            }
        }
        guard value.isFinite else { throw JSONRefusal("a number that overflows a double", at: number.range.lowerBound) }
        if value == 0 {
            guard !number.hasNonZeroDigit else {
                throw JSONRefusal("a number that underflows a double", at: number.range.lowerBound)
            }
            guard !number.hasExponent else {
                throw JSONRefusal("a zero with an exponent", at: number.range.lowerBound)
            }
        } else if !value.isNormal {
            throw JSONRefusal("a number that underflows a double", at: number.range.lowerBound)
        }
        return value
    }

    /// An `Int` field: an integer literal (no fraction, no exponent) within ±(2^53 − 1).
    mutating func readInt() throws(JSONRefusal) -> Int {
        let number = try scanNumber(expecting: "expected an integer")
        guard !number.hasFraction, !number.hasExponent else {
            throw JSONRefusal("expected an integer without fraction or exponent", at: number.range.lowerBound)
        }
        guard number.digits <= 16 else {
            throw JSONRefusal("an integer beyond ±(2^53 − 1)", at: number.range.lowerBound)
        }
        var value = 0
        for byte in bytes[number.range] where byte != UInt8(ascii: "-") {
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard value <= Self.largestExactInteger else {
            throw JSONRefusal("an integer beyond ±(2^53 − 1)", at: number.range.lowerBound)
        }
        return number.isNegative ? -value : value
    }

    /// Any JSON value, for the open-ended parts of the contract; objects refuse duplicate names.
    mutating func readValue() throws(JSONRefusal) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw unexpected("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "{"):
            return .object(try readObjectValue())
        case UInt8(ascii: "["):
            var array: [JSONValue] = []
            try readArray { reader throws(JSONRefusal) in array.append(try reader.readValue()) }
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
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try readDouble())
        default:
            throw unexpected("expected a value")
        }
    }

    /// Any value, checked as ``readValue()`` checks it, kept as where its parts are (see ``JSONNode``).
    mutating func readNode() throws(JSONRefusal) -> JSONNode {
        skipWhitespace()
        let offset = index
        guard index < bytes.count else { throw unexpected("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            var members: [String: JSONNode] = [:]
            try readObject { reader, key throws(JSONRefusal) in
                let name = key.string
                guard members.updateValue(try reader.readNode(), forKey: name) == nil else {
                    throw JSONRefusal.duplicate(name)
                }
            }
            return JSONNode(offset: offset, content: .object(members))
        case UInt8(ascii: "["):
            var elements: [JSONNode] = []
            try readArray { reader throws(JSONRefusal) in elements.append(try reader.readNode()) }
            return JSONNode(offset: offset, content: .array(elements))
        default:
            _ = try readValue()
            return JSONNode(offset: offset, content: .scalar)
        }
    }

    /// An object of any values, names unique after unescaping.
    mutating func readObjectValue() throws(JSONRefusal) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        try readObject { reader, key throws(JSONRefusal) in
            let name = key.string
            // One hash lookup: the value is read first, and the name refused if it was there already.
            guard object.updateValue(try reader.readValue(), forKey: name) == nil else {
                throw JSONRefusal.duplicate(name)
            }
        }
        return object
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
    private mutating func scanNumber(expecting: String) throws(JSONRefusal) -> Number {
        skipWhitespace()
        let start = index
        var number = Number(range: start..<start)
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            number.isNegative = true
            index += 1
        }
        let integerStart = index
        guard index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else {
            throw index == start ? unexpected(expecting) : JSONRefusal("a number without digits", at: start)
        }
        try scanDigits(into: &number)
        guard bytes[integerStart] != UInt8(ascii: "0") || index - integerStart == 1 else {
            throw JSONRefusal("a number with a leading zero", at: start)
        }
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
    private mutating func scanDigits(into number: inout Number) throws(JSONRefusal) {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            if bytes[index] != UInt8(ascii: "0") { number.hasNonZeroDigit = true }
            index += 1
        }
        guard index > start else { throw JSONRefusal("a number with a missing digit", at: index) }
        number.digits += index - start
    }

    private mutating func readKey() throws(JSONRefusal) -> Key {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            // Names are read after '{' and after ',': the empty object is taken before, so '}' here
            // follows a comma.
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { throw JSONRefusal("trailing comma", at: index) }
            throw unexpected("expected a member name")
        }
        index += 1
        let start = index
        var needsValidation = false
        while true {
            skipPlainStringBytes()
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let key = Key(bytes: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                index += 1
                if needsValidation, String(validating: key.bytes, as: UTF8.self) == nil {
                    throw JSONRefusal("invalid UTF-8 in a member name", at: start)
                }
                return key
            }
            if byte == UInt8(ascii: "\\") {
                // Rare: the name is compared, and checked for duplicates, as its unescaped text.
                let name = try readEscapedString(from: start)
                let names = unescapedNames ?? UnescapedNames()
                unescapedNames = names
                return Key(bytes: names.keep(name))
            }
            guard byte >= 0x20 else { throw JSONRefusal("a raw control character in a member name", at: index) }
            if byte >= 0x80 { needsValidation = true }
            index += 1
        }
        throw JSONRefusal("unterminated member name", at: start - 1)
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

    private mutating func enter(_ open: UInt8, _ what: StaticString) throws(JSONRefusal) {
        try expect(open, orSay: what)
        depth += 1
        guard depth <= JSONNesting.maximumDepth else {
            throw JSONRefusal("nesting deeper than \(JSONNesting.maximumDepth) levels", at: index - 1)
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONRefusal) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
            UnsafeBufferPointer(rebasing: bytes[index..<index + count])
                .elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: count))
        else { throw unexpected("expected a value") }
        index += count
    }

    private mutating func expect(_ byte: UInt8, orSay problem: StaticString? = nil) throws(JSONRefusal) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else {
            throw unexpected(problem.map { "\($0)" } ?? "expected '\(Character(Unicode.Scalar(byte)))'")
        }
        index += 1
    }

    private mutating func consumeIfNext(_ byte: UInt8) throws(JSONRefusal) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw unexpected("unexpected end") }
        guard bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// `problem`, saying what stands at the current position instead.
    func unexpected(_ problem: String) -> JSONRefusal {
        guard index < bytes.count else { return JSONRefusal("\(problem), found the end of the JSON text", at: index) }
        let byte = bytes[index]
        let found =
            (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return JSONRefusal("\(problem), found \(found)", at: index)
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
    /// The names seen in one typed object, to refuse duplicates: known fields by number, others by name.
    struct Members {
        private var known: UInt32 = 0
        /// A set, not a list: an envelope may carry thousands of unknown members, each checked before any
        /// signature is (names compare as `String`s, as in ``readObjectValue()``).
        private var others: Set<String> = []

        /// Records known field number `field` (0–31), named `key`; refuses it the second time.
        mutating func first(_ field: Int, _ key: Key) throws(JSONRefusal) {
            let bit: UInt32 = 1 << field
            guard known & bit == 0 else { throw JSONRefusal.duplicate(key.string) }
            known |= bit
        }

        /// A member the type does not know: its value is read (strictly) and ignored.
        mutating func skip(_ key: Key, in reader: inout JSONReader) throws(JSONRefusal) {
            let name = key.string
            guard others.insert(name).inserted else { throw JSONRefusal.duplicate(name) }
            _ = try reader.readValue()
        }
    }
}

extension JSONRefusal {
    /// A member `name` seen twice in one object (I-JSON §2.3): a refusal about the object, not the member.
    static func duplicate(_ name: String) -> JSONRefusal {
        var refusal = JSONRefusal("duplicate member \"\(clipped(name))\"")
        refusal.isAboutObject = true
        return refusal
    }

    /// A member the type requires is absent.
    static func missing(_ name: StaticString) -> JSONRefusal {
        JSONRefusal("missing member \"\(name)\"")
    }

    /// A member the type requires is absent.
    static func missing(named name: String) -> JSONRefusal {
        JSONRefusal("missing member \"\(clipped(name))\"")
    }
}
