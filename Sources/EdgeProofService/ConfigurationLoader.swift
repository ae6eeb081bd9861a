import EdgeProofCore
import EdgeProofStorage
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
        var tree = PlainYAML.emptyMapping
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError(key: "", problem: "cannot read \(path): no such file or not readable")
            }
            let loaded: Node?
            do {
                loaded = try PlainYAML.compose(text)
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
            let value = (try? PlainYAML.compose(raw)).flatMap { $0 } ?? PlainYAML.string(raw)
            tree = PlainYAML.setting(value, at: key.split(separator: ".").map(String.init)[...], in: tree)
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
