import EdgeProofCore
import EdgeProofMQTT
import Logging

/// The value conventions every configuration shares: log levels and durations.
extension Logger.Level {
    /// The names every component accepts for `log_level`, in any case: swift-log's, plus `warn`.
    public static let configurationNames = ["trace", "debug", "info", "notice", "warn", "warning", "error", "critical"]

    /// A level from its configuration name (any case), nil for an unknown one.
    public init?(configurationName name: String) {
        switch name.lowercased() {
        case "warn": self = .warning
        case "fatal": self = .critical  // the gateway took the prototype's Python name; still accepted
        case let other: self.init(rawValue: other)
        }
    }
}

extension Duration {
    /// A duration from a configuration key ending `_s`: seconds as a number, fractions allowed unless
    /// `wholeSeconds` (for values the wire counts in whole seconds). Every `_s` key is read here. Throws
    /// when it is negative, zero (unless `allowZero`), not finite, or beyond `maximum` seconds.
    public static func configurationSeconds(
        _ seconds: Double, key: String, allowZero: Bool = false, wholeSeconds: Bool = false,
        maximum: Double = 3_153_600_000
    ) throws(ConfigurationError) -> Duration {
        guard seconds.isFinite, allowZero ? seconds >= 0 : seconds > 0, seconds <= maximum else {
            let lower = allowZero ? "at least 0" : "more than 0"
            throw ConfigurationError(
                key: key, problem: "must be \(lower) and at most \(Self.format(maximum)) seconds, not \(seconds)")
        }
        guard !wholeSeconds || seconds == seconds.rounded() else {
            throw ConfigurationError(key: key, problem: "must be a whole number of seconds, not \(seconds)")
        }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// Checks a duration set in code against the same bounds as its `_s` key (see
    /// ``configurationSeconds(_:key:allowZero:wholeSeconds:maximum:)``).
    public func validate(
        key: String, allowZero: Bool = false, wholeSeconds: Bool = false, maximum: Double = 3_153_600_000
    ) throws(ConfigurationError) {
        _ = try Self.configurationSeconds(
            seconds, key: key, allowZero: allowZero, wholeSeconds: wholeSeconds, maximum: maximum)
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int64(seconds)) : String(seconds)
    }
}

extension KeyedDecodingContainer {
    /// An `_s` key read through ``Swift/Duration/configurationSeconds(_:key:allowZero:wholeSeconds:maximum:)``;
    /// the error names the dotted key (`records.max_file_age_s`).
    public func decodeDurationIfPresent(
        forKey key: Key, allowZero: Bool = false, wholeSeconds: Bool = false, maximum: Double = 3_153_600_000
    ) throws -> Duration? {
        guard let seconds = try decodeIfPresent(Double.self, forKey: key) else { return nil }
        do {
            return try Duration.configurationSeconds(
                seconds, key: key.stringValue, allowZero: allowZero, wholeSeconds: wholeSeconds, maximum: maximum)
        } catch {
            // As a decoding error, so that the loader names the key with its path, as for every other key.
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: error.problem)
        }
    }

    /// `log_level` as every component spells it (see ``Logging/Logger/Level/configurationNames``).
    public func decodeLogLevelIfPresent(forKey key: Key) throws -> Logger.Level? {
        guard let name = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let level = Logger.Level(configurationName: name) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self,
                debugDescription: "unknown log level \"\(name)\"; use "
                    + Logger.Level.configurationNames.joined(separator: ", ") + " (any case)")
        }
        return level
    }
}

extension KeyedDecodingContainer {
    /// `require_trust_level`, `require_trust_level_by_agent` and `max_attestation_age_s`, as the gateway
    /// and the collectors read them (absent: nothing is required).
    public func decodeTrustRequirement(level: Key, byAgent: Key, maximumAge: Key) throws -> TrustRequirement {
        func trustLevel(_ text: String, key: Key) throws -> TrustLevel {
            guard let level = TrustLevel(rawValue: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: self,
                    debugDescription: "unknown trust level \"\(text.prefix(40))\"; use "
                        + TrustLevel.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return level
        }
        var requirement = TrustRequirement()
        if let text = try decodeIfPresent(String.self, forKey: level) {
            requirement.minimumLevel = try trustLevel(text, key: level)
        }
        for (agent, text) in try decodeIfPresent([String: String].self, forKey: byAgent) ?? [:] {
            guard AgentName.isValid(agent) else {
                throw DecodingError.dataCorruptedError(
                    forKey: byAgent, in: self, debugDescription: "\"\(agent.prefix(70))\" is not an agent name")
            }
            requirement.minimumLevelByAgent[agent] = try trustLevel(text, key: byAgent)
        }
        if let age = try decodeDurationIfPresent(forKey: maximumAge) {
            requirement.maximumAttestationAge = Double(age.components.seconds)
                + Double(age.components.attoseconds) / 1e18
        }
        return requirement
    }
}
