import Foundation

/// Every wire type and file of ours is written by its `Encodable` conformance through this one encoder:
/// compact, keys sorted by their UTF-8 bytes, slashes unescaped, absent optionals left out — the bytes
/// Foundation's `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes (`MessageEncodingTests`
/// compares them), written by ``JSONWriter`` without the generic machinery that made `JSONEncoder` cost a
/// collector more than the rest of a receipt. Only the envelope's header and claims and the record line
/// have writers of their own (their hot paths, see `edgeproof bench verify`).
public enum WireJSON {
    public static func encode(_ value: some Encodable) throws -> Data {
        Data(try bytes(value))
    }

    /// What ``encode(_:)`` writes, as bytes. Throws `EncodingError.invalidValue` where `JSONEncoder` does:
    /// a number JSON cannot carry (NaN, ±infinity), nesting deeper than 512 levels.
    static func bytes(_ value: some Encodable) throws -> [UInt8] {
        let root = WireNode()
        try value.encode(to: WireEncoding(node: root, codingPath: []))
        var writer = JSONWriter(capacity: 256)
        try root.write(into: &writer, depth: 1, codingPath: [])
        return writer.bytes
    }
}

/// One value as encoded, before it is written: objects are written once complete, so that their keys can
/// be sorted whatever order the type encoded them in.
private final class WireNode {
    enum Value {
        case null
        case bool(Bool)
        /// A number's text as it is written (integers, floats).
        case literal(String)
        case number(Double)
        case string(String)
        case object([String: WireNode])
        case array([WireNode])
    }

    var value = Value.null

    func member(_ key: some CodingKey) -> WireNode {
        let child = WireNode()
        var members: [String: WireNode] = [:]
        if case .object(let existing) = value { members = existing }
        value = .null  // the dictionary is uniquely referenced while it grows
        members[key.stringValue] = child
        value = .object(members)
        return child
    }

    func element() -> WireNode {
        let child = WireNode()
        var elements: [WireNode] = []
        if case .array(let existing) = value { elements = existing }
        value = .null
        elements.append(child)
        value = .array(elements)
        return child
    }

    /// A `Float` as `JSONEncoder` writes it: its own shortest text, not a `Double`'s.
    func set(_ float: Float, _ codingPath: [any CodingKey]) throws {
        guard float.isFinite else {
            throw EncodingError.invalidValue(
                float, EncodingError.Context(codingPath: codingPath, debugDescription: "\(float) is not valid JSON"))
        }
        let text = float.description
        value = .literal(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
    }

    /// `depth` counts containers as `JSONEncoder` does, the outermost at 1.
    func write(into writer: inout JSONWriter, depth: Int, codingPath: [any CodingKey]) throws {
        switch value {
        case .null: writer.null()
        case .bool(let value): writer.bool(value)
        case .literal(let text): writer.rawValue(ArraySlice(text.utf8))
        case .string(let value): writer.string(value)
        case .number(let value):
            do throws(JSONWriter.Refusal) {
                try writer.number(value)
            } catch {
                let context = EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) is not valid JSON")
                throw EncodingError.invalidValue(value, context)
            }
        case .object(let members):
            try checkDepth(depth, codingPath)
            writer.openObject()
            for (name, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                writer.key(dynamic: name)
                try member.write(into: &writer, depth: depth + 1, codingPath: codingPath + [WireKey(name)])
            }
            writer.closeObject()
        case .array(let elements):
            try checkDepth(depth, codingPath)
            writer.openArray()
            for (index, element) in elements.enumerated() {
                try element.write(into: &writer, depth: depth + 1, codingPath: codingPath + [WireKey(index)])
            }
            writer.closeArray()
        }
    }

    private func checkDepth(_ depth: Int, _ codingPath: [any CodingKey]) throws {
        guard depth < JSONWriter.maximumDepth else {
            throw EncodingError.invalidValue(
                depth, EncodingError.Context(codingPath: codingPath, debugDescription: "nested too deeply"))
        }
    }
}

private struct WireKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ name: String) {
        stringValue = name
        intValue = nil
    }

    init(_ index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }

    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { self.init(intValue) }
}

/// The `Encoder` writing into one ``WireNode``.
private struct WireEncoding: Encoder {
    let node: WireNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.value {} else { node.value = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.value {} else { node.value = .array([]) }
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(node: node, codingPath: codingPath)
    }

    /// `value` into `node`: Foundation's own types as `JSONEncoder` writes them by default, the rest by
    /// their conformances.
    static func encode(_ value: some Encodable, into node: WireNode, codingPath: [any CodingKey]) throws {
        switch value {
        case let data as Data: node.value = .string(data.base64EncodedString())
        case let url as URL: node.value = .string(url.absoluteString)
        default: try value.encode(to: WireEncoding(node: node, codingPath: codingPath))
        }
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: WireNode
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) { node.member(key).value = .null }
    mutating func encode(_ value: Bool, forKey key: Key) { node.member(key).value = .bool(value) }
    mutating func encode(_ value: String, forKey key: Key) { node.member(key).value = .string(value) }
    mutating func encode(_ value: Double, forKey key: Key) { node.member(key).value = .number(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try node.member(key).set(value, codingPath + [key]) }
    mutating func encode(_ value: Int, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: Int8, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: Int16, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: Int32, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: Int64, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: UInt, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: UInt8, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: UInt16, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: UInt32, forKey key: Key) { node.member(key).value = .literal(value.description) }
    mutating func encode(_ value: UInt64, forKey key: Key) { node.member(key).value = .literal(value.description) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try WireEncoding.encode(value, into: node.member(key), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        WireEncoding(node: node.member(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        WireEncoding(node: node.member(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        WireEncoding(node: node.member(WireKey("super")), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        WireEncoding(node: node.member(key), codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: WireNode
    let codingPath: [any CodingKey]

    var count: Int {
        guard case .array(let elements) = node.value else { return 0 }
        return elements.count
    }

    private var nextPath: [any CodingKey] { codingPath + [WireKey(count)] }

    mutating func encodeNil() { node.element().value = .null }
    mutating func encode(_ value: Bool) { node.element().value = .bool(value) }
    mutating func encode(_ value: String) { node.element().value = .string(value) }
    mutating func encode(_ value: Double) { node.element().value = .number(value) }
    mutating func encode(_ value: Float) throws {
        let path = nextPath
        try node.element().set(value, path)
    }
    mutating func encode(_ value: Int) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: Int8) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: Int16) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: Int32) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: Int64) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: UInt) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: UInt8) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: UInt16) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: UInt32) { node.element().value = .literal(value.description) }
    mutating func encode(_ value: UInt64) { node.element().value = .literal(value.description) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = nextPath
        try WireEncoding.encode(value, into: node.element(), codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        return WireEncoding(node: node.element(), codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        return WireEncoding(node: node.element(), codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        return WireEncoding(node: node.element(), codingPath: path)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let node: WireNode
    let codingPath: [any CodingKey]

    mutating func encodeNil() { node.value = .null }
    mutating func encode(_ value: Bool) { node.value = .bool(value) }
    mutating func encode(_ value: String) { node.value = .string(value) }
    mutating func encode(_ value: Double) { node.value = .number(value) }
    mutating func encode(_ value: Float) throws { try node.set(value, codingPath) }
    mutating func encode(_ value: Int) { node.value = .literal(value.description) }
    mutating func encode(_ value: Int8) { node.value = .literal(value.description) }
    mutating func encode(_ value: Int16) { node.value = .literal(value.description) }
    mutating func encode(_ value: Int32) { node.value = .literal(value.description) }
    mutating func encode(_ value: Int64) { node.value = .literal(value.description) }
    mutating func encode(_ value: UInt) { node.value = .literal(value.description) }
    mutating func encode(_ value: UInt8) { node.value = .literal(value.description) }
    mutating func encode(_ value: UInt16) { node.value = .literal(value.description) }
    mutating func encode(_ value: UInt32) { node.value = .literal(value.description) }
    mutating func encode(_ value: UInt64) { node.value = .literal(value.description) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try WireEncoding.encode(value, into: node, codingPath: codingPath)
    }
}
