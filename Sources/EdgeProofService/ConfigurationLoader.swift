import EdgeProofCore
import Foundation
import Yams

/// Loads a component's configuration, one dialect for every component: a YAML file (optional), then
/// environment variables that override single keys. Each component names its variables and the dotted key each one sets
/// (`"GEOGRAPHIC_REGION": "location.region"`). A variable's value is read as YAML, so numbers,
/// booleans and lists (`ALLOWED_REGIONS=["US"]`) keep their types.
public struct ConfigurationLoader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func load<Configuration: Decodable>(
        _ type: Configuration.Type, file path: String?, overrides: [String: String]
    ) throws(ConfigurationError) -> Configuration {
        var tree = ConfigurationYAML.emptyMapping
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError(key: "", problem: "cannot read \(path): no such file or not readable")
            }
            let loaded: Node?
            do {
                loaded = try ConfigurationYAML.compose(text)
            } catch {
                throw ConfigurationError(key: "", problem: "not valid YAML: \(error)", source: path)
            }
            if let loaded {
                guard case .mapping = loaded else {
                    throw ConfigurationError(key: "", problem: "must be a YAML mapping of keys to values", source: path)
                }
                tree = loaded
            }
        }
        for (variable, key) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let raw = environment[variable], !raw.isEmpty else { continue }
            let value = (try? ConfigurationYAML.compose(raw)).flatMap { $0 } ?? ConfigurationYAML.string(raw)
            tree = ConfigurationYAML.setting(value, at: key.split(separator: ".").map(String.init)[...], in: tree)
        }
        return try decode(type, tree, path: path)
    }

    private func decode<Configuration: Decodable>(_ type: Configuration.Type, _ tree: Node, path: String?)
        throws(ConfigurationError) -> Configuration
    {
        let source = path ?? "the environment"
        do {
            return try YAMLDecoder().decode(type, from: tree)
        } catch let error as DecodingError {
            throw ConfigurationError(decoding: error).from(source)
        } catch let error as ConfigurationError {
            throw error.from(source)
        } catch {
            throw ConfigurationError(key: "", problem: "\(error)", source: source)
        }
    }
}

/// YAML read without Yams' implicit typing, whose resolver matches every plain scalar against
/// `NSRegularExpression`s: on Linux those load ICU, several megabytes of resident memory that an agent on
/// a small device keeps for its whole life (`edgeproof bench agent` reports its RSS). Plain scalars stay
/// text until the configuration type asks for a number or a string; booleans are recognized by their
/// YAML 1.1 spellings, which is all the typed constructors need.
enum ConfigurationYAML {
    private static var tag: Tag { Tag(.implicit, .basic) }
    static var emptyMapping: Node { .mapping(Node.Mapping([], tag)) }

    static func compose(_ text: String) throws -> Node? {
        try Yams.compose(yaml: text, .basic).map(typed)
    }

    static func string(_ text: String) -> Node {
        Node(text, tag, .plain)
    }

    /// `node` with `value` at the dotted `path` (mappings made as needed; a scalar on the way is replaced).
    static func setting(_ value: Node, at path: ArraySlice<String>, in node: Node?) -> Node {
        guard let first = path.first else { return value }
        var pairs: [(Node, Node)] = []
        if case .mapping(let mapping)? = node { pairs = mapping.map { ($0.key, $0.value) } }
        let index = pairs.firstIndex { $0.0.scalar?.string == first }
        let child = setting(value, at: path.dropFirst(), in: index.map { pairs[$0].1 })
        if let index { pairs[index].1 = child } else { pairs.append((Node(first, tag), child)) }
        return .mapping(Node.Mapping(pairs, tag))
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

/// A component's configuration as the kit loads it: YAML, then the environment, then checked.
public protocol LoadableConfiguration: Decodable {
    /// Environment variable → the dotted key it sets.
    static var environmentOverrides: [String: String] { get }
    /// Checks values that decode but cannot work; the error names the key.
    func validate() throws(ConfigurationError)
}

extension LoadableConfiguration {
    /// Reads `file` (optional: the environment may supply everything), applies the environment
    /// overrides, and checks the values.
    public static func load(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> Self {
        let configuration = try ConfigurationLoader(environment: environment)
            .load(Self.self, file: file, overrides: environmentOverrides)
        do {
            try configuration.validate()
        } catch {
            throw error.from(file ?? "the environment")
        }
        return configuration
    }
}
