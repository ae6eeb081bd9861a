import EdgeProofCore
import Foundation

/// One bad metric envelope: its bytes, the family it comes from, and the reason a receiver must give.
public struct BadPayload: Sendable, Hashable {
    public var category: String
    public var bytes: Data
    public var expected: RejectionReason
}

/// A deterministic corpus of bad envelopes for one agent: random bytes, truncations, deep nesting,
/// wrong types, huge numbers and strings, invalid UTF-8 and base64url, wrong shapes, oversized
/// messages. Every payload is distinct. The expected reason is `payload_too_large` above
/// `maximumSize`, `unsupported_alg` or `header_mismatch` for the few families built to reach those
/// checks, and `malformed_envelope` otherwise.
public struct BadPayloads: Sendable {
    public let agentName: String
    public let keyHash: String
    public let maximumSize: Int
    public private(set) var payloads: [BadPayload] = []
    /// Well-formed envelopes (random signatures) that the generator mutates; they parse.
    public private(set) var templates: [Data] = []

    private var seen: Set<Data> = []
    private var random: SplitMix64

    public init(
        seed: UInt64 = 0xED6E_9_2026, agentName: String = "agent-001",
        keyHash: String = String(repeating: "ab", count: 32), maximumSize: Int = SignedEnvelope.defaultMaximumSize
    ) {
        self.agentName = agentName
        self.keyHash = keyHash
        self.maximumSize = maximumSize
        random = SplitMix64(seed: seed)
        generate()
    }

    /// The payloads whose rejection belongs to `request_validation`.
    public var requestValidationPayloads: [BadPayload] {
        payloads.filter { $0.expected.validationType == .requestValidation }
    }

    // MARK: - Building blocks

    /// JSON built by hand, so that raw tokens (1e400, invalid UTF-8, 10,000 brackets) go in verbatim.
    indirect enum Raw {
        case raw([UInt8])
        case string(String)
        case object([(String, Raw)])
        case array([Raw])

        var bytes: [UInt8] {
            var out: [UInt8] = []
            write(into: &out)
            return out
        }

        func write(into out: inout [UInt8]) {
            switch self {
            case .raw(let bytes): out += bytes
            case .string(let text): out += Raw.quoted(text)
            case .object(let members):
                out.append(UInt8(ascii: "{"))
                for (index, member) in members.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    out += Raw.quoted(member.0)
                    out.append(UInt8(ascii: ":"))
                    member.1.write(into: &out)
                }
                out.append(UInt8(ascii: "}"))
            case .array(let elements):
                out.append(UInt8(ascii: "["))
                for (index, element) in elements.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    element.write(into: &out)
                }
                out.append(UInt8(ascii: "]"))
            }
        }

        static func quoted(_ text: String) -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "\"")]
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
                case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
            return out
        }

        static func number(_ text: String) -> Raw { .raw(Array(text.utf8)) }

        /// Replaces (or with nil removes) the value at `path`; array elements by decimal index.
        func replacing(_ path: ArraySlice<String>, with value: Raw?) -> Raw? {
            guard let key = path.first else { return value }
            switch self {
            case .object(let members):
                var result: [(String, Raw)] = []
                for member in members {
                    if member.0 == key {
                        if let replaced = member.1.replacing(path.dropFirst(), with: value) {
                            result.append((member.0, replaced))
                        }
                    } else {
                        result.append(member)
                    }
                }
                return .object(result)
            case .array(var elements):
                guard let index = Int(key), elements.indices.contains(index) else { return self }
                if let replaced = elements[index].replacing(path.dropFirst(), with: value) {
                    elements[index] = replaced
                } else {
                    elements.remove(at: index)
                }
                return .array(elements)
            default:
                return self
            }
        }
    }

    enum Kind { case string, optionalString, int, number, optionalNumber, object, optionalObject, array }

    static let claimFields: [([String], Kind)] = [
        (["v"], .int), (["agent_name"], .string), (["tpm_public_key_hash"], .string), (["nonce"], .string),
        (["timestamp"], .string), (["geographic_region"], .object), (["geographic_region", "region"], .string),
        (["geographic_region", "state"], .optionalString), (["geographic_region", "city"], .optionalString),
        (["geolocation"], .optionalObject), (["geolocation", "latitude"], .number),
        (["geolocation", "longitude"], .number), (["geolocation", "accuracy_m"], .optionalNumber),
        (["geolocation", "quality"], .optionalString), (["metrics"], .object), (["metrics", "service"], .object),
        (["metrics", "service", "name"], .string), (["metrics", "service", "version"], .string),
        (["metrics", "service", "instance_id"], .string), (["metrics", "samples"], .array),
        (["metrics", "samples", "0"], .object), (["metrics", "samples", "0", "timestamp"], .string),
        (["metrics", "samples", "0", "metric_type"], .string), (["metrics", "samples", "0", "values"], .object),
    ]

    static let headerFields: [([String], Kind)] = [(["alg"], .string), (["kid"], .string), (["typ"], .string)]
    static let outerFields: [([String], Kind)] = [(["protected"], .string), (["payload"], .string), (["signature"], .string)]

    /// Values of the wrong type for `kind` (never one a lenient decoder could take as right).
    static func wrongValues(for kind: Kind) -> [(String, Raw)] {
        let number = ("number", Raw.number("12345"))
        let fraction = ("fraction", Raw.number("1.5"))
        let string = ("string", Raw.string("1"))
        let object = ("object", Raw.object([]))
        let objectWithMember = ("object", Raw.object([("a", .string("b"))]))
        let array = ("array", Raw.array([]))
        let arrayOfStrings = ("array", Raw.array([.string("x")]))
        let null = ("null", Raw.raw(Array("null".utf8)))
        let bool = ("bool", Raw.raw(Array("true".utf8)))
        switch kind {
        case .string: return [number, object, array, arrayOfStrings, null, bool]
        case .optionalString: return [number, object, array, bool]
        case .int: return [fraction, string, object, array, null, bool]
        case .number: return [string, object, array, null, bool]
        case .optionalNumber: return [string, object, array, bool]
        case .object: return [number, string, array, arrayOfStrings, null, bool]
        case .optionalObject: return [number, string, array, arrayOfStrings, bool]
        case .array: return [number, string, object, objectWithMember, null, bool]
        }
    }

    func claims(nonce: String) -> Raw {
        .object([
            ("v", .number("1")), ("agent_name", .string(agentName)), ("tpm_public_key_hash", .string(keyHash)),
            ("nonce", .string(nonce)), ("timestamp", .string("2026-11-21T10:00:00.123Z")),
            (
                "geographic_region",
                .object([("region", .string("US")), ("state", .string("California")), ("city", .string("Santa Clara"))])
            ),
            (
                "geolocation",
                .object([
                    ("latitude", .number("37.35")), ("longitude", .number("-121.95")), ("accuracy_m", .number("15")),
                    ("quality", .string("GNSS")), ("type", .string("precise")),
                ])
            ),
            (
                "metrics",
                .object([
                    (
                        "service",
                        .object([
                            ("name", .string("edgeproof-agent")), ("version", .string("1")),
                            ("instance_id", .string(agentName)),
                        ])
                    ),
                    (
                        "samples",
                        .array([
                            .object([
                                ("timestamp", .string("2026-11-21T10:00:00.100Z")), ("metric_type", .string("system")),
                                ("values", .object([("cpu_percent", .number("12.5")), ("load_average_1m", .number("0.42"))])),
                            ])
                        ])
                    ),
                ])
            ),
        ])
    }

    func header(alg: String = "ES256") -> Raw {
        .object([("alg", .string(alg)), ("kid", .string(keyHash)), ("typ", .string("edgeproof+jws"))])
    }

    static func b64(_ bytes: [UInt8]) -> String { Base64URL.encode(bytes) }

    static func envelope(protected: Raw, payload: Raw, signature: Raw) -> Raw {
        .object([("protected", protected), ("payload", payload), ("signature", signature)])
    }

    func envelope(header: Raw, claims: Raw, signature: [UInt8]) -> Raw {
        Self.envelope(
            protected: .string(Self.b64(header.bytes)), payload: .string(Self.b64(claims.bytes)),
            signature: .string(Self.b64(signature)))
    }

    private mutating func add(_ category: String, _ bytes: [UInt8], _ reason: RejectionReason = .malformedEnvelope) {
        let data = Data(bytes)
        guard seen.insert(data).inserted else { return }
        let expected = data.count > maximumSize ? RejectionReason.payloadTooLarge : reason
        payloads.append(BadPayload(category: category, bytes: data, expected: expected))
    }

    private mutating func nonce(_ length: Int) -> String {
        Self.b64(random.bytes(length))
    }

    // MARK: - The corpus

    private mutating func generate() {
        // Three templates whose base64url fields end in every residue of length mod 4.
        var parts: [(header: Raw, claims: Raw, signature: [UInt8])] = []
        for nonceLength in [24, 25, 26] {
            let claims = claims(nonce: nonce(nonceLength))
            let signature = random.bytes(64)
            parts.append((header(), claims, signature))
            templates.append(Data(envelope(header: header(), claims: claims, signature: signature).bytes))
            // A mutation that changes nothing must not end up in the corpus.
            seen.insert(templates[templates.count - 1])
        }

        addRandomBytes()
        addJSONSoup()
        for (index, part) in parts.enumerated() {
            addTruncations(template: [UInt8](templates[index]), part: part)
            addWrongTypes(part: part)
            addInvalidBase64(part: part)
        }
        if let part = parts.first {
            addDeepNesting(part: part)
            addHugeValues(part: part)
            addInvalidUTF8(part: part)
            addWrongShapes(part: part)
            addReasonSpecific(part: part)
            addOversized(part: part)
        }
    }

    private mutating func addRandomBytes() {
        add("empty", [])
        for _ in 0..<4000 {
            let length = Int.random(in: 1...2048, using: &random)
            add("random_bytes", random.bytes(length))
        }
        for _ in 0..<200 {
            // Random bytes behind a plausible start.
            let length = Int.random(in: 1...512, using: &random)
            add("random_bytes", Array(#"{"protected":""#.utf8) + random.bytes(length))
        }
    }

    private mutating func addJSONSoup() {
        let tokens = [
            "{", "}", "[", "]", ":", ",", #""protected""#, #""payload""#, #""signature""#, #""""#, #""eyJ""#, "null",
            "true", "false", "0", "-0", "1e400", "123456789012345678901234567890", #""\u0000""#, #""\ud800""#, " ",
            "\n", #""alg""#, #""ES256""#, #""x""#,
        ]
        for _ in 0..<2500 {
            let count = Int.random(in: 1...40, using: &random)
            var text = ""
            for _ in 0..<count { text += tokens[Int.random(in: 0..<tokens.count, using: &random)] }
            add("json_soup", Array(text.utf8))
        }
    }

    private mutating func addTruncations(template: [UInt8], part: (header: Raw, claims: Raw, signature: [UInt8])) {
        for length in 0..<template.count { add("truncated_envelope", Array(template[..<length])) }
        let protected = Self.b64(part.header.bytes)
        let payload = Self.b64(part.claims.bytes)
        let signature = Raw.string(Self.b64(part.signature))
        for length in 0..<protected.utf8.count {
            let cut = String(protected.prefix(length))
            add(
                "truncated_protected",
                Self.envelope(protected: .string(cut), payload: .string(payload), signature: signature).bytes)
        }
        for length in 0..<payload.utf8.count {
            let cut = String(payload.prefix(length))
            add(
                "truncated_payload",
                Self.envelope(protected: .string(protected), payload: .string(cut), signature: signature).bytes)
        }
    }

    private mutating func addWrongTypes(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let (header, claims, signature) = part
        for (path, kind) in Self.claimFields {
            for (name, value) in Self.wrongValues(for: kind) {
                guard let mutated = claims.replacing(path[...], with: value) else { continue }
                add("wrong_type.claims.\(path.joined(separator: ".")).\(name)", envelope(header: header, claims: mutated, signature: signature).bytes)
            }
            // (Removing an array element leaves a valid, shorter array.)
            if kind != .optionalString, kind != .optionalNumber, kind != .optionalObject, Int(path.last ?? "") == nil,
                let removed = claims.replacing(path[...], with: nil)
            {
                add("missing.claims.\(path.joined(separator: "."))", envelope(header: header, claims: removed, signature: signature).bytes)
            }
        }
        for (path, kind) in Self.headerFields {
            for (name, value) in Self.wrongValues(for: kind) {
                guard let mutated = header.replacing(path[...], with: value) else { continue }
                add("wrong_type.header.\(path[0]).\(name)", envelope(header: mutated, claims: claims, signature: signature).bytes)
            }
            if let removed = header.replacing(path[...], with: nil) {
                add("missing.header.\(path[0])", envelope(header: removed, claims: claims, signature: signature).bytes)
            }
        }
        let outer = envelope(header: header, claims: claims, signature: signature)
        for (path, kind) in Self.outerFields {
            for (name, value) in Self.wrongValues(for: kind) {
                guard let mutated = outer.replacing(path[...], with: value) else { continue }
                add("wrong_type.envelope.\(path[0]).\(name)", mutated.bytes)
            }
            if let removed = outer.replacing(path[...], with: nil) { add("missing.envelope.\(path[0])", removed.bytes) }
        }
    }

    /// base64url that is not canonical unpadded base64url, in each of the three members.
    private mutating func addInvalidBase64(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let fields = [Self.b64(part.header.bytes), Self.b64(part.claims.bytes), Self.b64(part.signature)]
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for which in 0..<3 {
            let original = fields[which]
            var variants: [(String, String)] = [
                ("padding", original + "="), ("padding", original + "=="),
                ("length_mod_4_is_1", original + String("ABCD".prefix((5 - original.utf8.count % 4) % 4))),
                ("length_mod_4_is_1", original + String("ABCDABCD".prefix((5 - original.utf8.count % 4) % 4 + 4))),
                ("length_mod_4_is_1", String(original.prefix(max(1, (original.utf8.count - 1) / 4 * 4 + 1)))), ("empty", ""),
                ("standard_alphabet", Data(original.utf8).isEmpty ? "+" : Self.standard(original)),
            ]
            let characters = Array(original)
            for position in stride(from: 0, to: characters.count, by: max(1, characters.count / 8)) {
                for bad in ["+", "/", " ", "\n", "\t", "=", ".", "*", "é", "%"] {
                    var copy = characters
                    copy[position] = Character(bad)
                    variants.append(("bad_character", String(copy)))
                }
                var inserted = characters
                inserted.insert(" ", at: position)
                variants.append(("whitespace", String(inserted)))
            }
            // Non-canonical trailing bits: the last character with a low bit set that encodes nothing.
            if characters.count % 4 == 2 || characters.count % 4 == 3, let last = characters.last,
                let index = alphabet.firstIndex(of: last)
            {
                var copy = characters
                copy[copy.count - 1] = alphabet[index | 1]
                variants.append(("non_canonical_bits", String(copy)))
            }
            for (name, text) in variants {
                var members: [Raw] = fields.map { .string($0) }
                members[which] = .string(text)
                let field = ["protected", "payload", "signature"][which]
                add(
                    "invalid_base64url.\(field).\(name)",
                    Self.envelope(protected: members[0], payload: members[1], signature: members[2]).bytes)
            }
        }
    }

    private static func standard(_ text: String) -> String {
        var result = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while result.utf8.count % 4 != 0 { result += "=" }
        // Make sure it differs from the original even without - or _ in it.
        return result == text ? result + "+/" : result
    }

    private mutating func addDeepNesting(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let (header, claims, signature) = part
        func nested(_ depth: Int, object: Bool, leaf: String = "1") -> [UInt8] {
            let open = object ? Array(#"{"a":"#.utf8) : [UInt8(ascii: "[")]
            let close = object ? [UInt8(ascii: "}")] : [UInt8(ascii: "]")]
            var out: [UInt8] = []
            out.reserveCapacity(depth * (open.count + 1) + leaf.utf8.count)
            for _ in 0..<depth { out += open }
            out += Array(leaf.utf8)
            for _ in 0..<depth { out += close }
            return out
        }
        // Documents that end right at Foundation's own nesting limit of 512 (its decoder once trapped on them).
        for count in 505...520 {
            for open in ["[", #"{"a":"#, "[{\"a\":"] {
                let unclosed = Array(String(repeating: open, count: count).utf8)
                add("deep_nesting.at_decoder_limit.envelope", unclosed)
                add(
                    "deep_nesting.at_decoder_limit.header",
                    Self.envelope(
                        protected: .string(Self.b64(unclosed)), payload: .string(Self.b64(claims.bytes)),
                        signature: .string(Self.b64(signature))
                    ).bytes)
                add(
                    "deep_nesting.at_decoder_limit.claims",
                    Self.envelope(
                        protected: .string(Self.b64(header.bytes)), payload: .string(Self.b64(unclosed)),
                        signature: .string(Self.b64(signature))
                    ).bytes)
            }
        }
        let depths = [65, 100, 257, 512, 513, 1000, 4096, 10_000, 50_000, 100_000]
        for depth in depths {
            for object in [false, true] {
                let shape = object ? "objects" : "arrays"
                let deep = nested(depth, object: object)
                // The whole envelope, and inside each of its members.
                add("deep_nesting.envelope.\(shape)", deep)
                add("deep_nesting.envelope_unclosed.\(shape)", Array(deep.prefix(deep.count / 2)))
                let outer = envelope(header: header, claims: claims, signature: signature)
                if let mutated = outer.replacing(["protected"], with: .raw(deep)) {
                    add("deep_nesting.envelope.protected.\(shape)", mutated.bytes)
                }
                if let mutated = outer.replacing(["x"], with: nil), case .object(var members) = mutated {
                    members.append(("extra", .raw(deep)))
                    add("deep_nesting.envelope.extra_member.\(shape)", Raw.object(members).bytes)
                }
                // Inside the base64url-decoded header and claims.
                add(
                    "deep_nesting.header.\(shape)",
                    Self.envelope(
                        protected: .string(Self.b64(deep)), payload: .string(Self.b64(claims.bytes)),
                        signature: .string(Self.b64(signature))
                    ).bytes)
                if case .object(var members) = header {
                    members.append(("x", .raw(deep)))
                    add("deep_nesting.header.member.\(shape)", envelope(header: .object(members), claims: claims, signature: signature).bytes)
                }
                add(
                    "deep_nesting.claims.\(shape)",
                    Self.envelope(
                        protected: .string(Self.b64(header.bytes)), payload: .string(Self.b64(deep)),
                        signature: .string(Self.b64(signature))
                    ).bytes)
                for path in [["metrics", "samples", "0", "values", "cpu_percent"], ["geolocation"], ["metrics"], ["v"]] {
                    if let mutated = claims.replacing(path[...], with: .raw(deep)) {
                        add(
                            "deep_nesting.claims.\(path.joined(separator: ".")).\(shape)",
                            envelope(header: header, claims: mutated, signature: signature).bytes)
                    }
                }
            }
        }
    }

    private mutating func addHugeValues(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let (header, claims, signature) = part
        let hugeNumbers = [
            "1e400", "-1e400", "123456789012345678901234567890", "-123456789012345678901234567890", "0.1e99999",
            "1" + String(repeating: "0", count: 5000),
        ]
        for token in hugeNumbers + ["-0", "1e-400", "-1", "2147483648", "9223372036854775808"] {
            if let mutated = claims.replacing(["v"], with: .number(token)) {
                add("huge_number.claims.v", envelope(header: header, claims: mutated, signature: signature).bytes)
            }
        }
        for token in hugeNumbers {
            for path in [["geolocation", "latitude"], ["geolocation", "longitude"]] {
                if let mutated = claims.replacing(path[...], with: .number(token)) {
                    add("huge_number.claims.\(path.joined(separator: "."))", envelope(header: header, claims: mutated, signature: signature).bytes)
                }
            }
        }
        // Numbers no Double holds, as metric values, also under a 100 KB key (the answer must stay short).
        for token in ["1e400", "-1e400", "0.1e99999", "1" + String(repeating: "0", count: 400)] {
            for key in ["cpu_percent", String(repeating: "K", count: 100_000)] {
                let values = Raw.object([(key, .number(token))])
                if let mutated = claims.replacing(["metrics", "samples", "0", "values"], with: values) {
                    add("huge_number.claims.metric_value", envelope(header: header, claims: mutated, signature: signature).bytes)
                }
            }
        }
        // 100 KB strings where the contract bounds them (the envelope stays under the size limit).
        for size in [1000, 10_000, 100_000] {
            let text = String(repeating: "A", count: size)
            for path in [
                ["agent_name"], ["nonce"], ["timestamp"], ["tpm_public_key_hash"], ["geographic_region", "region"],
                ["geographic_region", "state"], ["geographic_region", "city"],
            ] {
                if let mutated = claims.replacing(path[...], with: .string(text)) {
                    add("huge_string.claims.\(path.joined(separator: "."))", envelope(header: header, claims: mutated, signature: signature).bytes)
                }
            }
            for path in ["kid", "typ"] {
                if let mutated = header.replacing([path], with: .string(text)) {
                    add("huge_string.header.\(path)", envelope(header: mutated, claims: claims, signature: signature).bytes)
                }
            }
            if let mutated = header.replacing(["alg"], with: .string(text)) {
                add("huge_string.header.alg", envelope(header: mutated, claims: claims, signature: signature).bytes, .unsupportedAlgorithm)
            }
            let outer = envelope(header: header, claims: claims, signature: signature)
            if let mutated = outer.replacing(["protected"], with: .string(text + "!")) {
                add("huge_string.envelope.protected", mutated.bytes)
            }
        }
    }

    private mutating func addInvalidUTF8(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let (header, claims, signature) = part
        let sequences: [[UInt8]] = [
            [0xFF], [0xFE], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3],
            Array(#"\ud800"#.utf8), Array(#"\udfff"#.utf8), Array(#"\ud800\u0041"#.utf8), Array(#"\u00"#.utf8),
            Array(#"\x41"#.utf8), [0x00], [0x0A], [0x1F],
        ]
        func stringWith(_ bad: [UInt8], prefix: String) -> Raw {
            .raw([UInt8(ascii: "\"")] + Array(prefix.utf8) + bad + Array("x".utf8) + [UInt8(ascii: "\"")])
        }
        let outer = envelope(header: header, claims: claims, signature: signature)
        for bad in sequences {
            for path in [["agent_name"], ["timestamp"], ["tpm_public_key_hash"]] {
                if let mutated = claims.replacing(path[...], with: stringWith(bad, prefix: agentName)) {
                    add("invalid_utf8.claims.\(path[0])", envelope(header: header, claims: mutated, signature: signature).bytes)
                }
            }
            if let mutated = header.replacing(["kid"], with: stringWith(bad, prefix: keyHash)) {
                add("invalid_utf8.header.kid", envelope(header: mutated, claims: claims, signature: signature).bytes)
            }
            for member in ["protected", "payload", "signature"] {
                if let mutated = outer.replacing([member], with: stringWith(bad, prefix: "eyJ")) {
                    add("invalid_utf8.envelope.\(member)", mutated.bytes)
                }
            }
            // As a raw key of the envelope object.
            add("invalid_utf8.envelope.key", [UInt8(ascii: "{"), UInt8(ascii: "\"")] + bad + Array(#"":1}"#.utf8))
        }
    }

    private mutating func addWrongShapes(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let (header, claims, signature) = part
        let valid = envelope(header: header, claims: claims, signature: signature).bytes
        let protected = Self.b64(header.bytes)
        let payload = Self.b64(claims.bytes)
        let sig = Self.b64(signature)
        let shapes: [String] = [
            "null", "true", "false", "0", "-0", "1e400", #""x""#, "[]", "{}", #"[""#, "{", " ", "\n", #"{"":""}"#,
            #"{"protected":null,"payload":null,"signature":null}"#,
            #"{"payload":"\#(payload)","signatures":[{"protected":"\#(protected)","signature":"\#(sig)"}]}"#,
            "\(protected).\(payload).\(sig)", #""\#(protected).\#(payload).\#(sig)""#,
        ]
        for shape in shapes { add("wrong_shape.envelope", Array(shape.utf8)) }
        add("wrong_shape.envelope.in_array", [UInt8(ascii: "[")] + valid + [UInt8(ascii: "]")])
        add("wrong_shape.envelope.twice", valid + valid)
        add("wrong_shape.envelope.trailing_garbage", valid + Array("x".utf8))
        add("wrong_shape.envelope.nul_terminated", valid + [0])
        for shape in ["null", "[]", "{}", #""x""#, "1", "[{}]", #"{"v":1}"#] {
            add(
                "wrong_shape.claims",
                Self.envelope(protected: .string(protected), payload: .string(Self.b64(Array(shape.utf8))), signature: .string(sig)).bytes)
            add(
                "wrong_shape.header",
                Self.envelope(protected: .string(Self.b64(Array(shape.utf8))), payload: .string(payload), signature: .string(sig)).bytes)
        }
        // A valid claims object as the header and the other way round.
        add(
            "wrong_shape.swapped",
            Self.envelope(protected: .string(payload), payload: .string(protected), signature: .string(sig)).bytes)
        // Claims with other versions, names and times.
        for (path, value) in [
            (["v"], "2"), (["v"], "0"), (["agent_name"], #"".hidden""#), (["agent_name"], #""a/b""#),
            (["agent_name"], #""""#), (["timestamp"], #""yesterday""#), (["timestamp"], #""2026-13-01T00:00:00Z""#),
            (["nonce"], #""""#), (["geographic_region", "region"], #""""#), (["geographic_region", "state"], "null"),
            (["geolocation", "latitude"], "91"), (["geolocation", "longitude"], "-181"),
            (["tpm_public_key_hash"], #""ABAB""#),
        ] {
            if let mutated = claims.replacing(path[...], with: .raw(Array(value.utf8))) {
                add("invalid_value.claims.\(path.joined(separator: "."))", envelope(header: header, claims: mutated, signature: signature).bytes)
            }
        }
        for (path, value) in [(["kid"], #""abc""#), (["typ"], #""JWT""#), (["crit"], #"["exp"]"#)] {
            let mutated: Raw
            if path == ["crit"], case .object(var members) = header {
                members.append(("crit", .raw(Array(value.utf8))))
                mutated = .object(members)
            } else {
                mutated = header.replacing(path[...], with: .raw(Array(value.utf8))) ?? header
            }
            add("invalid_value.header.\(path[0])", envelope(header: mutated, claims: claims, signature: signature).bytes)
        }
        add(
            "invalid_value.signature.empty",
            Self.envelope(protected: .string(protected), payload: .string(payload), signature: .string("")).bytes)
    }

    /// Envelopes that are well formed up to a later check: a different reason, not request_validation.
    private mutating func addReasonSpecific(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let (_, claims, signature) = part
        for alg in ["none", "HS256", "es256", "ES384", "PS256", "EdDSA", ""] {
            add(
                "unsupported_alg", envelope(header: header(alg: alg), claims: claims, signature: signature).bytes,
                .unsupportedAlgorithm)
        }
        let other = String(repeating: "cd", count: 32)
        if let mutated = header().replacing(["kid"], with: .string(other)) {
            add("header_mismatch.kid", envelope(header: mutated, claims: claims, signature: signature).bytes, .headerMismatch)
        }
    }

    private mutating func addOversized(part: (header: Raw, claims: Raw, signature: [UInt8])) {
        let (header, claims, signature) = part
        // Just over the limit, 300 KiB, and about 1 MiB (just under the broker's max_packet_size).
        for size in [maximumSize + 1, 300 * 1024, 1_040_000] {
            add("oversized.random_bytes", random.bytes(size))
            // A well-formed envelope carrying a huge metric value.
            let filler = String(repeating: "z", count: size * 3 / 4)
            if let mutated = claims.replacing(["metrics", "service", "name"], with: .string(filler)) {
                add("oversized.envelope", envelope(header: header, claims: mutated, signature: signature).bytes)
            }
            add("oversized.whitespace", Array(repeating: UInt8(ascii: " "), count: size))
        }
    }
}
