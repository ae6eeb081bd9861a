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
        var tree: [String: Any] = [:]
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError(key: "", problem: "cannot read \(path): no such file or not readable")
            }
            do {
                guard let loaded = try Yams.load(yaml: text) else { return try decode(type, [:], path: path) }
                guard let mapping = loaded as? [String: Any] else {
                    throw ConfigurationError(key: "", problem: "must be a YAML mapping of keys to values", source: path)
                }
                tree = mapping
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw ConfigurationError(key: "", problem: "not valid YAML: \(error)", source: path)
            }
        }
        for (variable, key) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let raw = environment[variable], !raw.isEmpty else { continue }
            let value = (try? Yams.load(yaml: raw)).flatMap { $0 } ?? raw
            Self.set(value, at: key.split(separator: ".").map(String.init), in: &tree)
        }
        return try decode(type, tree, path: path)
    }

    private func decode<Configuration: Decodable>(_ type: Configuration.Type, _ tree: [String: Any], path: String?)
        throws(ConfigurationError) -> Configuration
    {
        let source = path ?? "the environment"
        do {
            let yaml = tree.isEmpty ? "{}" : try Yams.dump(object: tree)
            return try YAMLDecoder().decode(type, from: yaml)
        } catch let error as DecodingError {
            throw ConfigurationError(decoding: error).from(source)
        } catch let error as ConfigurationError {
            throw error.from(source)
        } catch {
            throw ConfigurationError(key: "", problem: "\(error)", source: source)
        }
    }

    private static func set(_ value: Any, at path: [String], in tree: inout [String: Any]) {
        guard let first = path.first else { return }
        if path.count == 1 {
            tree[first] = value
            return
        }
        var child = tree[first] as? [String: Any] ?? [:]
        set(value, at: Array(path.dropFirst()), in: &child)
        tree[first] = child
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
