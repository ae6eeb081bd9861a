import Foundation

/// Every wire type and file of ours is written by its `Encodable` conformance through this one encoder:
/// compact, keys sorted by their UTF-8 bytes, slashes unescaped, absent optionals left out — the bytes
/// Foundation's `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes (`MessageEncodingTests`
/// and `StrictJSONDecoderTests` compare them), written by ``JSONWriter``. Only the envelope's header and
/// claims and the record line have writers of their own (their hot paths: `edgeproof bench verify`).
public enum WireJSON {
    public static func encode(_ value: some Encodable) throws -> Data {
        Data(try bytes(value))
    }

    /// What ``encode(_:)`` writes, as bytes. Throws `EncodingError.invalidValue` where `JSONEncoder` does:
    /// a number JSON cannot carry (NaN, ±infinity), nesting deeper than 512 levels.
    static func bytes(_ value: some Encodable, capacity: Int = 256) throws -> [UInt8] {
        let root = WireNode(isArray: true)
        root.add(.null)
        try value.encode(to: WireEncoding(slot: WireSlot(node: root, index: 0), parentPath: [], key: nil))
        var writer = JSONWriter(capacity: capacity)
        try root.elements[0].write(into: &writer, depth: 1)
        return writer.bytes
    }
}

/// A value as encoded, before it is written: objects are written once complete, so that their keys can
/// be sorted whatever order the type encoded them in.
private enum WireValue {
    case null
    case bool(Bool)
    /// A number's text as written (integers, floats).
    case literal(String)
    case number(Double)
    case string(String)
    case container(WireNode)

    /// `depth` counts containers as `JSONEncoder` does, the outermost at 1.
    func write(into writer: inout JSONWriter, depth: Int) throws {
        switch self {
        case .null: writer.null()
        case .bool(let value): writer.bool(value)
        case .literal(let text): writer.rawValue(ArraySlice(text.utf8))
        case .string(let value): writer.string(value)
        // Checked when encoded (``WireValue/number(_:_:)``).
        case .number(let value): try? writer.number(value)
        case .container(let node):
            guard depth < JSONWriter.maximumDepth else {
                throw EncodingError.invalidValue(
                    depth, EncodingError.Context(codingPath: [], debugDescription: "nested deeper than 512 levels"))
            }
            try node.write(into: &writer, depth: depth)
        }
    }

    /// The open-ended parts of the contract (rejection details, metric values) without a container per
    /// value: what their `Encodable` conformance gives, made directly.
    init(_ json: JSONValue, codingPath: () -> [any CodingKey]) throws {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .number(let value): self = try .number(value, codingPath())
        case .string(let value): self = .string(value)
        case .array(let elements):
            let node = WireNode(isArray: true)
            node.elements.reserveCapacity(elements.count)
            for element in elements { node.add(try WireValue(element, codingPath: codingPath)) }
            self = .container(node)
        case .object(let members):
            let node = WireNode(isArray: false)
            node.members.reserveCapacity(members.count)
            for (name, member) in members { node.members.append((name, try WireValue(member, codingPath: codingPath))) }
            self = .container(node)
        }
    }

    /// A number JSON can carry; `JSONEncoder`'s error for the others.
    static func number(_ value: Double, _ codingPath: @autoclosure () -> [any CodingKey]) throws -> WireValue {
        guard value.isFinite else { throw invalid(value, codingPath()) }
        return .number(value)
    }

    /// A `Float` as `JSONEncoder` writes it: its own shortest text, not a `Double`'s.
    static func number(_ value: Float, _ codingPath: @autoclosure () -> [any CodingKey]) throws -> WireValue {
        guard value.isFinite else { throw invalid(value, codingPath()) }
        let text = value.description
        return .literal(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
    }

    private static func invalid(_ value: Any, _ codingPath: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(
            value, EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) is not valid JSON"))
    }
}

/// An object or an array being encoded.
private final class WireNode {
    let isArray: Bool
    /// An object's members in the order encoded; a key encoded twice keeps its last value.
    var members: [(key: String, value: WireValue)] = []
    var elements: [WireValue] = []

    init(isArray: Bool) {
        self.isArray = isArray
    }

    func add(_ key: some CodingKey, _ value: WireValue) {
        members.append((key.stringValue, value))
    }

    func add(_ value: WireValue) {
        elements.append(value)
    }

    func write(into writer: inout JSONWriter, depth: Int) throws {
        guard !isArray else {
            writer.openArray()
            for element in elements { try element.write(into: &writer, depth: depth + 1) }
            writer.closeArray()
            return
        }
        var order = Array(members.indices)
        order.sort { left, right in
            let (a, b) = (members[left].key, members[right].key)
            return a == b ? left < right : a.utf8.lexicographicallyPrecedes(b.utf8)
        }
        writer.openObject()
        for (position, index) in order.enumerated() {
            // Of a key encoded twice, the last value stands (as in `JSONEncoder`).
            if position + 1 < order.count, members[order[position + 1]].key == members[index].key { continue }
            writer.key(dynamic: members[index].key)
            try members[index].value.write(into: &writer, depth: depth + 1)
        }
        writer.closeObject()
    }
}

/// Where a value goes: a member or an element of a node.
private struct WireSlot {
    let node: WireNode
    let index: Int

    var value: WireValue {
        node.isArray ? node.elements[index] : node.members[index].value
    }

    func set(_ value: WireValue) {
        if node.isArray { node.elements[index] = value } else { node.members[index].value = value }
    }

    /// The container in the slot, made if the slot holds none of that kind yet.
    func container(isArray: Bool) -> WireNode {
        if case .container(let node) = value, node.isArray == isArray { return node }
        let node = WireNode(isArray: isArray)
        set(.container(node))
        return node
    }
}

private struct WireKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init?(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }

    init(intValue: Int) {
        stringValue = "Index \(intValue)"
        self.intValue = intValue
    }
}

/// The `Encoder` writing into one slot. Its coding path is made only when asked for (an error, a type
/// that reads it): most values never need it.
private struct WireEncoding: Encoder {
    let slot: WireSlot
    let parentPath: [any CodingKey]
    let key: (any CodingKey)?

    var codingPath: [any CodingKey] { key.map { parentPath + [$0] } ?? parentPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(node: slot.container(isArray: false), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedContainer(node: slot.container(isArray: true), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(slot: slot, codingPath: codingPath)
    }

    /// `value` into `slot`: Foundation's own types as `JSONEncoder` writes them by default, the rest by
    /// their conformances.
    static func encode<T: Encodable>(
        _ value: T, into slot: WireSlot, parentPath: [any CodingKey], key: (any CodingKey)?
    ) throws {
        if T.self == JSONValue.self, let json = value as? JSONValue {
            slot.set(try WireValue(json, codingPath: { key.map { parentPath + [$0] } ?? parentPath }))
        } else if T.self == [String: JSONValue].self, let object = value as? [String: JSONValue] {
            slot.set(try WireValue(.object(object), codingPath: { key.map { parentPath + [$0] } ?? parentPath }))
        } else if T.self == Data.self, let data = value as? Data {
            slot.set(.string(data.base64EncodedString()))
        } else if T.self == URL.self, let url = value as? URL {
            slot.set(.string(url.absoluteString))
        } else {
            try value.encode(to: WireEncoding(slot: slot, parentPath: parentPath, key: key))
        }
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: WireNode
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) { node.add(key, .null) }
    mutating func encode(_ value: Bool, forKey key: Key) { node.add(key, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) { node.add(key, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        node.add(key, try .number(value, codingPath + [key]))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        node.add(key, try .number(value, codingPath + [key]))
    }
    mutating func encode(_ value: Int, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: Int8, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: Int16, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: Int32, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: Int64, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: UInt, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: UInt8, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: UInt16, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: UInt32, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode(_ value: UInt64, forKey key: Key) { node.add(key, .literal(value.description)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try WireEncoding.encode(value, into: slot(key), parentPath: codingPath, key: key)
    }

    private func slot(_ key: Key) -> WireSlot {
        node.add(key, .null)
        return WireSlot(node: node, index: node.members.count - 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        WireEncoding(slot: slot(key), parentPath: codingPath, key: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        WireEncoding(slot: slot(key), parentPath: codingPath, key: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let key = WireKey(stringValue: "super")
        node.add(WireKey(stringValue: "super")!, .null)
        return WireEncoding(
            slot: WireSlot(node: node, index: node.members.count - 1), parentPath: codingPath, key: key)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        WireEncoding(slot: slot(key), parentPath: codingPath, key: key)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: WireNode
    let codingPath: [any CodingKey]

    var count: Int { node.elements.count }

    private var nextKey: WireKey { WireKey(intValue: count) }

    mutating func encodeNil() { node.add(.null) }
    mutating func encode(_ value: Bool) { node.add(.bool(value)) }
    mutating func encode(_ value: String) { node.add(.string(value)) }
    mutating func encode(_ value: Double) throws { node.add(try .number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: Float) throws { node.add(try .number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: Int) { node.add(.literal(value.description)) }
    mutating func encode(_ value: Int8) { node.add(.literal(value.description)) }
    mutating func encode(_ value: Int16) { node.add(.literal(value.description)) }
    mutating func encode(_ value: Int32) { node.add(.literal(value.description)) }
    mutating func encode(_ value: Int64) { node.add(.literal(value.description)) }
    mutating func encode(_ value: UInt) { node.add(.literal(value.description)) }
    mutating func encode(_ value: UInt8) { node.add(.literal(value.description)) }
    mutating func encode(_ value: UInt16) { node.add(.literal(value.description)) }
    mutating func encode(_ value: UInt32) { node.add(.literal(value.description)) }
    mutating func encode(_ value: UInt64) { node.add(.literal(value.description)) }
    private mutating func slot() -> (WireSlot, WireKey) {
        let key = nextKey
        node.add(.null)
        return (WireSlot(node: node, index: node.elements.count - 1), key)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let (slot, key) = slot()
        try WireEncoding.encode(value, into: slot, parentPath: codingPath, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let (slot, key) = slot()
        return WireEncoding(slot: slot, parentPath: codingPath, key: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let (slot, key) = slot()
        return WireEncoding(slot: slot, parentPath: codingPath, key: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let (slot, key) = slot()
        return WireEncoding(slot: slot, parentPath: codingPath, key: key)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let slot: WireSlot
    let codingPath: [any CodingKey]

    mutating func encodeNil() { slot.set(.null) }
    mutating func encode(_ value: Bool) { slot.set(.bool(value)) }
    mutating func encode(_ value: String) { slot.set(.string(value)) }
    mutating func encode(_ value: Double) throws { slot.set(try .number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { slot.set(try .number(value, codingPath)) }
    mutating func encode(_ value: Int) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: Int8) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: Int16) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: Int32) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: Int64) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: UInt) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: UInt8) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: UInt16) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: UInt32) { slot.set(.literal(value.description)) }
    mutating func encode(_ value: UInt64) { slot.set(.literal(value.description)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        // The slot is this value's own: what the value encodes replaces it.
        try WireEncoding.encode(value, into: slot, parentPath: codingPath, key: nil)
    }
}
