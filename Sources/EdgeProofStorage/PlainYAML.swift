import Yams

/// The one way EdgeProof reads YAML (configurations, allowlists): composed without Yams' implicit typing,
/// whose resolver matches every plain scalar against `NSRegularExpression`s — on Linux those load ICU,
/// several megabytes of resident memory a long-running component keeps (`edgeproof bench agent` reports
/// the agent's RSS) — and decoded from the node tree (``decode(_:from:)``). Plain scalars stay text until
/// the decoded type asks for a number or a string (an unquoted `0x81010011` stays that text where a string
/// is wanted); booleans are recognized by their YAML 1.1 spellings, which is all the typed constructors
/// need.
public enum PlainYAML {
    private static var tag: Tag { Tag(.implicit, .basic) }
    public static var emptyMapping: Node { .mapping(Node.Mapping([], tag)) }

    public static func compose(_ text: String) throws -> Node? {
        try Yams.compose(yaml: text, .basic).map(typed)
    }

    public static func string(_ text: String) -> Node {
        Node(text, tag, .plain)
    }

    /// `node` with `value` at the dotted `path` (mappings made as needed; a scalar on the way is replaced).
    public static func setting(_ value: Node, at path: ArraySlice<String>, in node: Node?) -> Node {
        guard let first = path.first else { return value }
        var pairs: [(Node, Node)] = []
        if case .mapping(let mapping)? = node { pairs = mapping.map { ($0.key, $0.value) } }
        let index = pairs.firstIndex { $0.0.scalar?.string == first }
        let child = setting(value, at: path.dropFirst(), in: index.map { pairs[$0].1 })
        if let index { pairs[index].1 = child } else { pairs.append((Node(first, tag), child)) }
        return .mapping(Node.Mapping(pairs, tag))
    }

    /// `text` decoded as `type`, with `userInfo` for its decoder.
    public static func decode<Value: Decodable>(
        _ type: Value.Type, from text: String, userInfo: [CodingUserInfoKey: Any] = [:]
    ) throws -> Value {
        try YAMLDecoder().decode(type, from: try compose(text) ?? emptyMapping, userInfo: userInfo)
    }

    private static let booleans: Set<String> = ["true", "false", "yes", "no", "on", "off"]

    private static func typed(_ node: Node) -> Node {
        switch node {
        case .scalar(var scalar):
            if scalar.style == .plain, booleans.contains(scalar.string.lowercased()) { scalar.tag = Tag(.bool, .basic) }
            return .scalar(scalar)
        case .mapping(let mapping):
            return .mapping(Node.Mapping(mapping.map { (typed($0.key), typed($0.value)) }, mapping.tag, mapping.style))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(typed), sequence.tag, sequence.style))
        default:
            return node
        }
    }
}
