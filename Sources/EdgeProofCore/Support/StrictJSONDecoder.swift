/// Reads any `Decodable` wire type with the strict ``JSONReader``: a message type is its `Codable`
/// conformance and nothing more, and reading it strictly is
/// `try StrictJSONDecoder().decode(Receipt.self, from: payload)`.
///
/// The whole document is checked first, as ``JSONReader`` checks everything (duplicate names after
/// unescaping, trailing commas, I-JSON numbers, depth, …), including members the type does not know,
/// which are then ignored. The type's values are then read from where they stand, by the same reader:
/// an `Int` takes an integer literal only, a ``PublicKeyHash`` its canonical form only, and a type
/// with a reader of its own (``JSONReadable``: the claims' parts) is read by it. Every refusal is a
/// ``JSONRefusal`` naming the member ("missing member \"nonce\"", "expected a string" in
/// `details.reason`, …).
public struct StrictJSONDecoder: Sendable {
    /// Options for the types being decoded (`Decoder.userInfo`), e.g. ``AllowlistEntry/evidenceReading``.
    public var userInfo: [CodingUserInfoKey: any Sendable]

    public init(userInfo: [CodingUserInfoKey: any Sendable] = [:]) {
        self.userInfo = userInfo
    }

    public func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(JSONRefusal) -> T {
        try JSONReader.read(bytes) { reader throws(JSONRefusal) in try reader.decode(T.self, userInfo: userInfo) }
    }
}

/// A type read straight by ``JSONReader`` rather than through its `Decodable` conformance: scalars, the
/// open-ended ``JSONValue``, and the parts of the claims, whose hand-written readers are the envelope's
/// fast path (``StrictJSONDecoder`` uses them wherever these types appear).
protocol JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal)
}

/// Where a value checked by ``JSONReader/readNode()`` stands in its document: objects and arrays by
/// their parts, scalars by their offset only (read again, by type, when decoded).
struct JSONNode {
    enum Content {
        case object([String: JSONNode])
        case array([JSONNode])
        case scalar
    }

    let offset: Int
    let content: Content
}

extension JSONReader {
    /// The value at the reader's position as a `T`.
    mutating func decode<T: Decodable>(
        _ type: T.Type, userInfo: [CodingUserInfoKey: any Sendable] = [:]
    ) throws(JSONRefusal) -> T {
        if let readable = T.self as? any JSONReadable.Type, let value = try readable.init(reading: &self) as? T {
            return value
        }
        let node = try readNode()
        let decoding = StrictDecoding(document: document, node: node, codingPath: [], userInfo: userInfo)
        do {
            return try T(from: decoding)
        } catch let refusal as JSONRefusal {
            throw refusal
        } catch let error as DecodingError {
            throw JSONRefusal(decodingError: error)
        } catch {
            throw JSONRefusal("\(error)")
        }
    }
}

extension JSONRefusal {
    /// A type's own validation failed (an enum's unknown raw value, …): named by where, not by the input.
    init(decodingError error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self = JSONRefusal.missing(named: key.stringValue).under(context.codingPath)
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            self = JSONRefusal("expected a value of type \(type)").under(context.codingPath)
        case .dataCorrupted(let context):
            // The type's own sentence (the fence's GeoJSON problem, say), printable and clipped.
            let reason = String(
                decoding: context.debugDescription.utf8.prefix(160).filter { (0x20...0x7E).contains($0) }, as: UTF8.self)
            self = JSONRefusal("a value this member cannot take" + (reason.isEmpty ? "" : ": " + reason))
                .under(context.codingPath)
        @unknown default:
            self = JSONRefusal("a value this member cannot take")
        }
    }
}

/// The `Decoder` over one node of a checked document.
private struct StrictDecoding: Decoder {
    let document: UnsafeBufferPointer<UInt8>
    let node: JSONNode
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    /// `T` at `node`, `path` below the top of the document.
    static func decode<T: Decodable>(
        _ type: T.Type, at node: JSONNode, path: [any CodingKey], in document: UnsafeBufferPointer<UInt8>,
        userInfo: [CodingUserInfoKey: Any]
    ) throws -> T {
        guard let readable = T.self as? any JSONReadable.Type else {
            return try T(from: StrictDecoding(document: document, node: node, codingPath: path, userInfo: userInfo))
        }
        var reader = JSONReader(document, at: node.offset)
        do throws(JSONRefusal) {
            guard let value = try readable.init(reading: &reader) as? T else {
                throw JSONRefusal("expected a value of type \(T.self)")
            }
            return value
        } catch {
            throw error.under(path)
        }
    }

    static func isNull(_ node: JSONNode, in document: UnsafeBufferPointer<UInt8>) -> Bool {
        var reader = JSONReader(document, at: node.offset)
        return reader.isNullNext()
    }

    /// The refusal for a node that is not the container `what` names.
    func notA(_ what: String) -> JSONRefusal {
        JSONReader(document, at: node.offset).unexpected(what).under(codingPath)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = node.content else { throw notA("expected an object") }
        return KeyedDecodingContainer(
            KeyedContainer<Key>(document: document, members: members, codingPath: codingPath, userInfo: userInfo))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = node.content else { throw notA("expected an array") }
        return UnkeyedContainer(document: document, elements: elements, codingPath: codingPath, userInfo: userInfo)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(document: document, node: node, codingPath: codingPath, userInfo: userInfo)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: UnsafeBufferPointer<UInt8>
    let members: [String: JSONNode]
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func node(_ key: Key) throws -> JSONNode {
        guard let node = members[key.stringValue] else {
            throw JSONRefusal.missing(named: key.stringValue).under(codingPath)
        }
        return node
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        StrictDecoding.isNull(try node(key), in: document)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try StrictDecoding.decode(
            T.self, at: try node(key), path: codingPath + [key], in: document, userInfo: userInfo)
    }

    // The standard types all read through ``JSONReadable``, as every other type does.
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try standard(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try standard(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try standard(type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try standard(type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try standard(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try standard(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try standard(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try standard(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try standard(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try standard(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try standard(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try standard(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try standard(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try standard(type, key) }

    private func standard<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        try decode(T.self, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try StrictDecoding(document: document, node: try node(key), codingPath: codingPath + [key], userInfo: userInfo)
            .container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try StrictDecoding(document: document, node: try node(key), codingPath: codingPath + [key], userInfo: userInfo)
            .unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        throw JSONRefusal("a type that decodes its superclass, which no wire type does").under(codingPath)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try superDecoder()
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let document: UnsafeBufferPointer<UInt8>
    let elements: [JSONNode]
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]
    private(set) var currentIndex = 0

    init(
        document: UnsafeBufferPointer<UInt8>, elements: [JSONNode], codingPath: [any CodingKey],
        userInfo: [CodingUserInfoKey: Any]
    ) {
        self.document = document
        self.elements = elements
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next() throws -> (JSONNode, [any CodingKey]) {
        guard !isAtEnd else { throw JSONRefusal("fewer elements than expected").under(codingPath) }
        defer { currentIndex += 1 }
        return (elements[currentIndex], codingPath + [ElementKey(intValue: currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, StrictDecoding.isNull(elements[currentIndex], in: document) else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = try next()
        return try StrictDecoding.decode(T.self, at: node, path: path, in: document, userInfo: userInfo)
    }

    // The standard types all read through ``JSONReadable``, as every other type does.
    mutating func decode(_ type: Bool.Type) throws -> Bool { try standard(type) }
    mutating func decode(_ type: String.Type) throws -> String { try standard(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try standard(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try standard(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try standard(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try standard(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try standard(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try standard(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try standard(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try standard(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try standard(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try standard(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try standard(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try standard(type) }

    private mutating func standard<T: Decodable>(_ type: T.Type) throws -> T {
        try decode(T.self)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next()
        return try StrictDecoding(document: document, node: node, codingPath: path, userInfo: userInfo)
            .container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = try next()
        return try StrictDecoding(document: document, node: node, codingPath: path, userInfo: userInfo)
            .unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        throw JSONRefusal("a type that decodes its superclass, which no wire type does").under(codingPath)
    }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let document: UnsafeBufferPointer<UInt8>
    let node: JSONNode
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    func decodeNil() -> Bool { StrictDecoding.isNull(node, in: document) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try StrictDecoding.decode(T.self, at: node, path: codingPath, in: document, userInfo: userInfo)
    }

    // The standard types all read through ``JSONReadable``, as every other type does.
    func decode(_ type: Bool.Type) throws -> Bool { try standard(type) }
    func decode(_ type: String.Type) throws -> String { try standard(type) }
    func decode(_ type: Double.Type) throws -> Double { try standard(type) }
    func decode(_ type: Float.Type) throws -> Float { try standard(type) }
    func decode(_ type: Int.Type) throws -> Int { try standard(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try standard(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try standard(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try standard(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try standard(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try standard(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try standard(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try standard(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try standard(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try standard(type) }

    private func standard<T: Decodable>(_ type: T.Type) throws -> T {
        try decode(T.self)
    }
}

private struct ElementKey: CodingKey {
    let intValue: Int?
    var stringValue: String { intValue.map { "[\($0)]" } ?? "" }

    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

// MARK: What the reader reads itself

extension String: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) { self = try reader.readString() }
}

extension Bool: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) { self = try reader.readBool() }
}

extension Double: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) { self = try reader.readDouble() }
}

extension Float: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        let value = Float(try reader.readDouble())
        guard value.isFinite else { throw JSONRefusal("a number a Float cannot hold") }
        self = value
    }
}

/// Integer literals within ±(2^53 − 1) (``JSONReader/readInt()``) that the type holds.
extension JSONReadable where Self: FixedWidthInteger {
    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        guard let value = Self(exactly: try reader.readInt()) else {
            throw JSONRefusal("an integer out of the range of \(Self.self)")
        }
        self = value
    }
}

extension Int: JSONReadable {}
extension Int8: JSONReadable {}
extension Int16: JSONReadable {}
extension Int32: JSONReadable {}
extension Int64: JSONReadable {}
extension UInt: JSONReadable {}
extension UInt8: JSONReadable {}
extension UInt16: JSONReadable {}
extension UInt32: JSONReadable {}
extension UInt64: JSONReadable {}

extension JSONValue: JSONReadable {
    init(reading reader: inout JSONReader) throws(JSONRefusal) { self = try reader.readValue() }
}

extension Dictionary: JSONReadable where Key == String, Value == JSONValue {
    init(reading reader: inout JSONReader) throws(JSONRefusal) { self = try reader.readObjectValue() }
}
