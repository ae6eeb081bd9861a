/// Compact JSON written byte by byte, exactly as Foundation's `JSONEncoder` with
/// `[.sortedKeys, .withoutEscapingSlashes]` writes it: object keys in UTF-8 byte order, the same string
/// escapes (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00xx` for other control characters; everything
/// else as is), numbers as their `description` without a trailing ".0".
///
/// ``WireJSON`` writes every wire type through it; the envelope's header and claims and the record line,
/// written once per envelope, call it by hand (`edgeproof bench verify` and `bench agent` measure them).
/// Tests hold it byte for byte equal to `JSONEncoder` (`ClaimsEncodingTests`, `MessageEncodingTests`).
///
/// Keys of fixed structures are written in sorted order by their callers; ``write(_:)`` sorts the
/// keys of free-form objects.
package struct JSONWriter {
    /// A number JSON cannot carry (NaN, ±infinity), or nesting deeper than `JSONEncoder` accepts.
    package struct Refusal: Error {}

    package private(set) var bytes: [UInt8] = []
    /// Whether the next key or array element needs a comma before it.
    private var needsComma = false

    /// `JSONEncoder` refuses containers nested deeper than this.
    static let maximumDepth = 512

    package init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func openObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    package mutating func closeObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    package mutating func openArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    package mutating func closeArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// An object member's key of a fixed structure; its value follows. Our own plain names (no
    /// character JSON escapes), copied as they are.
    package mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { utf8 in
            assert(!Self.needsEscape(utf8), "a fixed key needs no escapes")
            bytes.append(contentsOf: utf8)
        }
        // Byte by byte: an array literal here is an allocation per key.
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A free-form object's key; its value follows.
    package mutating func key(dynamic name: String) {
        separate()
        writeString(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// JSON text fixed by the caller that begins an element of the current array or object (a comma goes
    /// before it when needed); its further parts follow through ``fragment(_:)`` and ``stringFragment(_:)``.
    /// For hot writers whose structure never changes: one append instead of one per brace and key.
    package mutating func element(_ json: StaticString) {
        separate()
        json.withUTF8Buffer { bytes.append(contentsOf: $0) }
        needsComma = true
    }

    /// More JSON text fixed by the caller, inside the element ``element(_:)`` began.
    package mutating func fragment(_ json: StaticString) {
        json.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A string value inside the element ``element(_:)`` began.
    package mutating func stringFragment(_ value: String) {
        writeString(value)
    }

    /// Digits of `value` as a JSON string (OTLP's 64-bit integers), inside the element ``element(_:)`` began.
    package mutating func unsignedStringFragment(_ value: UInt64) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: value.description.utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A number inside the element ``element(_:)`` began.
    package mutating func numberFragment(_ value: Double) throws(Refusal) {
        guard value.isFinite else { throw Refusal() }
        let text = value.description
        bytes.append(contentsOf: text.hasSuffix(".0") ? text.utf8.dropLast(2) : text.utf8.dropLast(0))
    }

    package mutating func string(_ value: String) {
        separate()
        writeString(value)
        needsComma = true
    }

    /// `bytes` as a string of lowercase hex digits.
    package mutating func hexString(_ value: some Collection<UInt8>) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        for byte in value {
            bytes.append(Self.hexDigits[Int(byte >> 4)])
            bytes.append(Self.hexDigits[Int(byte & 0x0F)])
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// A value that is JSON already (checked by whoever read it), copied as it is.
    package mutating func rawValue(_ json: ArraySlice<UInt8>) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    package mutating func integer(_ value: Int) {
        separate()
        bytes.append(contentsOf: value.description.utf8)
        needsComma = true
    }

    package mutating func number(_ value: Double) throws(Refusal) {
        guard value.isFinite else { throw Refusal() }
        separate()
        let text = value.description
        bytes.append(contentsOf: text.hasSuffix(".0") ? text.utf8.dropLast(2) : text.utf8.dropLast(0))
        needsComma = true
    }

    package mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    package mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// A free-form value; object keys sorted by their UTF-8 bytes. `depth`: the depth a container
    /// value has in the document, the outermost container being at 1 (as `JSONEncoder` counts).
    package mutating func write(_ value: JSONValue, depth: Int = 1) throws(Refusal) {
        switch value {
        case .null: null()
        case .bool(let value): bool(value)
        case .number(let value): try number(value)
        case .string(let value): string(value)
        case .array(let elements):
            guard depth < Self.maximumDepth else { throw Refusal() }
            openArray()
            for element in elements { try write(element, depth: depth + 1) }
            closeArray()
        case .object(let members):
            try object(members, depth: depth)
        }
    }

    /// A free-form object at `depth` (see ``write(_:depth:)``), keys sorted by their UTF-8 bytes.
    package mutating func object(_ members: [String: JSONValue], depth: Int) throws(Refusal) {
        guard depth < Self.maximumDepth else { throw Refusal() }
        openObject()
        for (name, value) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            key(dynamic: name)
            try write(value, depth: depth + 1)
        }
        closeObject()
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Whether `utf8` holds a byte JSON must escape (a control character, `"` or a backslash). Sixteen
    /// bytes at a time: the record's long base64url strings are most of what the collector writes.
    static func needsEscape(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        if let base = UnsafeRawPointer(utf8.baseAddress) {
            let quote = SIMD16<UInt8>(repeating: UInt8(ascii: "\"")), backslash = SIMD16<UInt8>(repeating: UInt8(ascii: "\\"))
            let space = SIMD16<UInt8>(repeating: 0x20)
            while index + 16 <= utf8.count {
                let chunk = base.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self)
                if any((chunk .< space) .| (chunk .== quote) .| (chunk .== backslash)) { return true }
                index += 16
            }
        }
        while index < utf8.count {
            let byte = utf8[index]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return true }
            index += 1
        }
        return false
    }

    private mutating func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape at all: copy them in one go, scanning the contiguous UTF-8
        // (String.UTF8View's own iteration costs more than the scan).
        var text = text
        let plain = text.withUTF8 { utf8 in
            guard !Self.needsEscape(utf8) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if plain {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
