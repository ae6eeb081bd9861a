import Foundation

/// A JSON document written exactly as given, to make ambiguous and non-canonical variants of the
/// contract's documents: member names as their raw JSON text (so a name can be written with escapes),
/// scalars as raw bytes (so a string can hold invalid UTF-8 or a raw control character).
indirect enum RawDocument {
    case object([(name: [UInt8], value: RawDocument)])
    case array([RawDocument])
    case scalar([UInt8])

    typealias Member = (name: [UInt8], value: RawDocument)

    static func string(_ text: String) -> RawDocument { .scalar(Array("\"\(text)\"".utf8)) }
    static func number(_ text: String) -> RawDocument { .scalar(Array(text.utf8)) }

    /// The text, with a trailing comma in the object or array at `trailingCommaAt`.
    func bytes(trailingCommaAt target: [Int]? = nil, path: [Int] = []) -> [UInt8] {
        let comma: [UInt8] = target == path ? [UInt8(ascii: ",")] : []
        switch self {
        case .scalar(let bytes):
            return bytes
        case .array(let elements):
            let inner = elements.enumerated().map { $1.bytes(trailingCommaAt: target, path: path + [$0]) }
            return [UInt8(ascii: "[")] + Array(inner.joined(separator: [UInt8(ascii: ",")])) + comma + [UInt8(ascii: "]")]
        case .object(let members):
            let inner = members.enumerated().map { index, member in
                [UInt8(ascii: "\"")] + member.name + Array("\":".utf8)
                    + member.value.bytes(trailingCommaAt: target, path: path + [index])
            }
            return [UInt8(ascii: "{")] + Array(inner.joined(separator: [UInt8(ascii: ",")])) + comma + [UInt8(ascii: "}")]
        }
    }

    /// Every node with its path (member or element indexes) and its label (member names joined by dots).
    func nodes(path: [Int] = [], label: String = "") -> [(path: [Int], label: String, node: RawDocument)] {
        var found: [(path: [Int], label: String, node: RawDocument)] = [(path, label.isEmpty ? "top" : label, self)]
        switch self {
        case .scalar:
            break
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                found += element.nodes(path: path + [index], label: label + "[\(index)]")
            }
        case .object(let members):
            for (index, member) in members.enumerated() {
                let name = String(decoding: member.name, as: UTF8.self)
                found += member.value.nodes(path: path + [index], label: label.isEmpty ? name : label + "." + name)
            }
        }
        return found
    }

    /// The document with the node at `path` transformed.
    func replacing(_ path: ArraySlice<Int>, _ transform: (RawDocument) -> RawDocument) -> RawDocument {
        guard let first = path.first else { return transform(self) }
        switch self {
        case .scalar:
            return self
        case .array(var elements):
            elements[first] = elements[first].replacing(path.dropFirst(), transform)
            return .array(elements)
        case .object(var members):
            members[first].value = members[first].value.replacing(path.dropFirst(), transform)
            return .object(members)
        }
    }
}

/// A member named `name`.
private func m(_ name: String, _ value: RawDocument) -> RawDocument.Member { (Array(name.utf8), value) }

/// One document of the differential corpus.
struct StrictReadingCase: Sendable, CustomStringConvertible {
    enum Part: String, Sendable { case header, claims }

    /// What the case is built to show, beyond the differential rule that holds for all.
    enum Expectation: Sendable {
        /// Not JSON by RFC 8259 or I-JSON: the independent parser refuses, and so must EdgeProof.
        case refused
        /// Strict JSON of the right shape: both accept, to the same values.
        case accepted
        /// Strict JSON, but not in the contract's canonical form (an uppercase hash): EdgeProof refuses.
        case refusedByContract
        /// Either way, as long as the differential rule holds (odd numbers, values checks may refuse).
        case either
    }

    let name: String
    let part: Part
    let bytes: [UInt8]
    let expectation: Expectation

    var description: String { "\(part).\(name)" }
}

/// Ambiguous and non-canonical variants of a protected header and of claims, at every nesting level.
struct StrictReadingCorpus {
    let header: RawDocument
    let claims: RawDocument
    private(set) var cases: [StrictReadingCase] = []

    init(keyHash: String) {
        header = .object([
            m("alg", .string("ES256")), m("kid", .string(keyHash)),
            m("typ", .string("edgeproof+jws")),
        ])
        let values: RawDocument = .object([
            m("cpu_percent", .number("12.5")), m("memory_used_bytes", .number("1048576")),
            m("ok", .scalar(Array("true".utf8))), m("label", .string("Z\\u00fcrich")),
            m(
                "nested",
                .object([
                    m("a", .array([.number("1"), .object([m("b", .scalar(Array("null".utf8)))])])),
                    m("city", .string("Santa Clara")),
                ])
            ),
        ])
        claims = .object([
            m("v", .number("1")), m("agent_name", .string("agent-001")),
            m("tpm_public_key_hash", .string(keyHash)), m("nonce", .string("fresh-nonce")),
            m("timestamp", .string("2026-11-21T10:00:00.123Z")),
            m(
                "geographic_region",
                .object([
                    m("region", .string("US")), m("state", .string("California")),
                    m("city", .string("Santa Clara")),
                ])
            ),
            m(
                "geolocation",
                .object([
                    m("latitude", .number("37.35")), m("longitude", .number("-121.95")),
                    m("accuracy_m", .number("15")), m("quality", .string("GNSS")),
                    m("type", .string("precise")),
                ])
            ),
            m(
                "metrics",
                .object([
                    m(
                        "service",
                        .object([
                            m("name", .string("edgeproof-agent")), m("version", .string("1")),
                            m("instance_id", .string("agent-001")),
                        ])
                    ),
                    m(
                        "samples",
                        .array([
                            .object([
                                m("timestamp", .string("2026-11-21T10:00:00.100Z")),
                                m("metric_type", .string("system")), m("values", values),
                            ]),
                            .object([
                                m("timestamp", .string("2026-11-21T10:00:00.110Z")),
                                m("metric_type", .string("application")),
                                m("values", .object([])),
                            ]),
                        ])
                    ),
                ])
            ),
        ])
        for (part, document) in [(StrictReadingCase.Part.header, header), (.claims, claims)] {
            addWhole(part, document)
            addMembers(part, document)
            addStrings(part, document)
            addNumbers(part, document)
        }
        let upper = keyHash.uppercased()
        add(.header, "kid.uppercase", replacingString(header, name: "kid", with: upper), .refusedByContract)
        add(
            .claims, "tpm_public_key_hash.uppercase", replacingString(claims, name: "tpm_public_key_hash", with: upper),
            .refusedByContract)
        // One letter digit in uppercase (a hash of only decimal digits would have none; 10^64 in 16^64).
        if let letter = keyHash.firstIndex(where: { ("a"..."f").contains($0) }) {
            var mixed = keyHash
            mixed.replaceSubrange(letter...letter, with: keyHash[letter...letter].uppercased())
            add(.header, "kid.mixed_case", replacingString(header, name: "kid", with: mixed), .refusedByContract)
        }
        // Names that differ in bytes but are canonically equivalent Unicode ("é" and "e" + U+0301).
        add(
            .claims, "values.canonically_equivalent_names",
            claimsBytes(extraValues: #""\u00e9":1,"e\u0301":2"#), .either)
        add(.claims, "values.escaped_name_alone", claimsBytes(extraValues: #""a\u005fb":1,"\u0063":"d""#), .accepted)
        add(.claims, "values.escaped_dup", claimsBytes(extraValues: #""a_b":1,"a\u005fb":2"#), .refused)
        add(.claims, "values.deep_64", claimsBytes(extraValues: #""deep":"# + nested(59)), .accepted)
        add(.claims, "values.deep_200", claimsBytes(extraValues: #""deep":"# + nested(200)), .either)
    }

    // MARK: Families

    /// The whole document: byte order mark, bytes after it, whitespace around it, other shapes.
    private mutating func addWhole(_ part: StrictReadingCase.Part, _ document: RawDocument) {
        let text = document.bytes()
        add(part, "plain", text, .accepted)
        add(part, "bom", [0xEF, 0xBB, 0xBF] + text, .refused)
        add(part, "bom_after_space", Array(" ".utf8) + [0xEF, 0xBB, 0xBF] + text, .refused)
        add(part, "whitespace_around", Array(" \t\r\n".utf8) + text + Array("\n\t \r".utf8), .accepted)
        for (name, tail) in [
            ("x", "x"), ("object", "{}"), ("nul", "\u{0}"), ("comma", ","), ("second_document", String(decoding: text, as: UTF8.self)),
            ("comment", "/* */"), ("null", "null"), ("nbsp", "\u{A0}"), ("form_feed", "\u{0C}"),
        ] {
            add(part, "trailing_bytes.\(name)", text + Array(tail.utf8), .refused)
        }
        add(part, "leading_form_feed", [0x0C] + text, .refused)
        add(part, "empty", [], .refused)
        add(part, "in_array", Array("[".utf8) + text + Array("]".utf8), .either)
        add(part, "truncated", Array(text.dropLast()), .refused)
        add(part, "single_quotes", Array("{'v':1}".utf8), .refused)
    }

    /// Every member of every object: a second one (last, first, with an escaped name), the name alone
    /// with escapes; a trailing comma in every object and array.
    private mutating func addMembers(_ part: StrictReadingCase.Part, _ document: RawDocument) {
        for (path, label, node) in document.nodes() {
            switch node {
            case .object(let members):
                let trailing = document.bytes(trailingCommaAt: path)
                add(part, "trailing_comma.\(label)", trailing, .refused)
                for (index, member) in members.enumerated() {
                    let name = String(decoding: member.name, as: UTF8.self)
                    let other = Self.otherValue(for: name, member.value)
                    let memberLabel = label == "top" ? name : "\(label).\(name)"
                    add(part, "duplicate_last.\(memberLabel)", document.replacing(path[...]) { _ in .object(members + [(name: member.name, value: other)]) }.bytes(), .refused)
                    add(part, "duplicate_first.\(memberLabel)", document.replacing(path[...]) { _ in .object([(name: member.name, value: other)] + members) }.bytes(), .refused)
                    add(part, "duplicate_same.\(memberLabel)", document.replacing(path[...]) { _ in .object(members + [member]) }.bytes(), .refused)
                    let escaped = Self.escapingFirst(member.name)
                    add(part, "duplicate_escaped.\(memberLabel)", document.replacing(path[...]) { _ in .object(members + [(name: escaped, value: other)]) }.bytes(), .refused)
                    var renamed = members
                    renamed[index].name = escaped
                    add(part, "escaped_name.\(memberLabel)", document.replacing(path[...]) { _ in .object(renamed) }.bytes(), .accepted)
                    var dropped = members
                    dropped.remove(at: index)
                    add(part, "missing.\(memberLabel)", document.replacing(path[...]) { _ in .object(dropped) }.bytes(), .either)
                }
            case .array:
                add(part, "trailing_comma.\(label)", document.bytes(trailingCommaAt: path), .refused)
            case .scalar:
                break
            }
        }
    }

    /// Every string: lone surrogates (escaped, and encoded in UTF-8), raw control characters, invalid
    /// UTF-8 and escapes; and valid forms that only look odd.
    private mutating func addStrings(_ part: StrictReadingCase.Part, _ document: RawDocument) {
        let refused: [(String, [UInt8])] = [
            ("lone_high_escape", Array(#""\ud800""#.utf8)), ("lone_low_escape", Array(#""\udc00""#.utf8)),
            ("high_then_text", Array(#""a\ud800b""#.utf8)), ("high_then_bmp", Array(#""\ud800\u0041""#.utf8)),
            ("swapped_pair", Array(#""\ude00\ud83d""#.utf8)), ("encoded_surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22]),
            ("raw_nul", [0x22, 0x61, 0x00, 0x22]), ("raw_newline", [0x22, 0x61, 0x0A, 0x22]), ("raw_us", [0x22, 0x1F, 0x22]),
            ("raw_tab", [0x22, 0x09, 0x22]), ("invalid_utf8", [0x22, 0xFF, 0x22]), ("overlong", [0x22, 0xC0, 0xAF, 0x22]),
            ("bad_escape", Array(#""\x41""#.utf8)), ("short_unicode_escape", Array(#""\u12""#.utf8)),
            ("unterminated", Array(#""abc"#.utf8)), ("single_quoted", Array("'abc'".utf8)),
        ]
        let odd: [(String, [UInt8])] = [
            ("surrogate_pair", Array(#""\ud83d\ude00""#.utf8)), ("raw_del", [0x22, 0x61, 0x7F, 0x22]),
            ("escaped_solidus", Array(#""a\/b""#.utf8)), ("escaped_nul", Array(#""a\u0000b""#.utf8)),
            ("empty", Array(#""""#.utf8)), ("emoji", Array("\"\u{1F600}\"".utf8)),
        ]
        for (path, label, node) in document.nodes() {
            guard case .scalar(let bytes) = node, bytes.first == UInt8(ascii: "\"") else { continue }
            for (name, value) in refused {
                add(part, "string.\(name).\(label)", document.replacing(path[...]) { _ in .scalar(value) }.bytes(), .refused)
            }
            for (name, value) in odd {
                add(part, "string.\(name).\(label)", document.replacing(path[...]) { _ in .scalar(value) }.bytes(), .either)
            }
        }
    }

    /// Every number: outside the grammar, beyond a double, and odd but valid forms.
    private mutating func addNumbers(_ part: StrictReadingCase.Part, _ document: RawDocument) {
        let refused = [
            "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "01", "1.", ".5", "+1", "0x10", "1e", "-", "1e+", "--1",
            "1.5.2", "١",
        ]
        let odd = [
            "1e-400", "9007199254740993", "9007199254740991", "-9007199254740992", "123456789012345678901234567890",
            "0e5", "-0.0e1", "4.9e-324", "2.2250738585072014e-308", "-0", "1E2", "2.5e1", "1.5", "1.0", "0.1",
            "0.30000000000000004", "1.7976931348623157e308", "100000000000000000000.0", "3.141592653589793238462643",
        ]
        for (path, label, node) in document.nodes() {
            guard case .scalar(let bytes) = node, let first = bytes.first,
                first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
            else { continue }
            for value in refused {
                add(part, "number.\(value).\(label)", document.replacing(path[...]) { _ in .number(value) }.bytes(), .refused)
            }
            for value in odd {
                add(part, "number.\(value).\(label)", document.replacing(path[...]) { _ in .number(value) }.bytes(), .either)
            }
        }
    }

    // MARK: Helpers

    private mutating func add(_ part: StrictReadingCase.Part, _ name: String, _ bytes: [UInt8], _ expectation: StrictReadingCase.Expectation) {
        cases.append(StrictReadingCase(name: name, part: part, bytes: bytes, expectation: expectation))
    }

    /// A different value of the same kind, the attacker's choice where the name says what matters.
    static func otherValue(for name: String, _ value: RawDocument) -> RawDocument {
        switch (name, value) {
        case ("alg", _): .string("none")
        case ("region", _): .string("EU")
        case ("state", _), ("city", _): .string("Berlin")
        case ("nonce", _): .string("consumed-nonce")
        case ("agent_name", _), ("instance_id", _): .string("agent-002")
        case ("kid", _), ("tpm_public_key_hash", _): .string(String(repeating: "cd", count: 32))
        case ("geographic_region", _):
            .object([m("region", .string("EU")), m("state", .string("Germany")), m("city", .string("Berlin"))])
        case ("metrics", _): .object([m("service", .object([])), m("samples", .array([]))])
        case (_, .scalar(let bytes)) where bytes.first == UInt8(ascii: "\""): .string("other")
        case (_, .scalar): .number("99")
        case (_, .array): .array([])
        case (_, .object): .object([])
        }
    }

    /// `name` with its first character written as a `\u00XX` escape.
    static func escapingFirst(_ name: [UInt8]) -> [UInt8] {
        guard let first = name.first, first < 0x80 else { return name }
        let hex = String(first, radix: 16)
        return Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8) + name.dropFirst()
    }

    private func replacingString(_ document: RawDocument, name: String, with text: String) -> [UInt8] {
        guard case .object(var members) = document, let index = members.firstIndex(where: { $0.name == Array(name.utf8) })
        else { return document.bytes() }
        members[index].value = .string(text)
        return RawDocument.object(members).bytes()
    }

    /// The claims with `extra` members added to the first sample's values.
    private func claimsBytes(extraValues extra: String) -> [UInt8] {
        let text = String(decoding: claims.bytes(), as: UTF8.self)
        return Array(text.replacingOccurrences(of: #""values":{"#, with: #""values":{"# + extra + ",", options: [], range: text.range(of: #""values":{"#)).utf8)
    }

    private func nested(_ depth: Int) -> String {
        String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
    }
}
