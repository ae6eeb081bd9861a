import EdgeProofCore
import Foundation

/// A configuration that cannot be used: the key (dotted, `records.max_file_bytes`; empty for the file
/// as a whole) and the problem, e.g. `sample_interval_s: must be more than 0 and at most 86400, not 0`.
/// The one validation error of every component's configuration.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var key: String
    public var problem: String
    /// The file the configuration came from, or "the environment"; set by the loader.
    public var source: String?

    public init(key: String, problem: String, source: String? = nil) {
        self.key = key
        self.problem = problem
        self.source = source
    }

    public var description: String {
        let what = key.isEmpty ? problem : "\(key): \(problem)"
        guard let source else { return what }
        return "configuration from \(source) is invalid: \(what)"
    }

    /// The same problem, said of `source`.
    public func from(_ source: String) -> ConfigurationError {
        var error = self
        error.source = error.source ?? source
        return error
    }

    /// A decoding failure as key and problem.
    init(decoding error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self.init(key: Self.path(context.codingPath + [key]), problem: "is required")
        case .typeMismatch(let type, let context):
            self.init(key: Self.path(context.codingPath), problem: "wrong type, expected \(Self.typeName(type))")
        case .valueNotFound(let type, let context):
            self.init(key: Self.path(context.codingPath), problem: "missing value, expected \(Self.typeName(type))")
        case .dataCorrupted(let context):
            self.init(key: Self.path(context.codingPath), problem: context.debugDescription)
        @unknown default:
            self.init(key: "", problem: DecodingProblem.describe(error))
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            .joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Bool.Type: "a boolean"
        case is Int.Type, is UInt32.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }
}
