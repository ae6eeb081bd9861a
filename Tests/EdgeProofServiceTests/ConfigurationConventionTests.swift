import EdgeProofAgent
import EdgeProofCollector
import EdgeProofGateway
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

/// One dialect: the same log-level names, durations and error shape in every component's configuration.
@Suite("Configuration conventions")
struct ConfigurationConventionTests {
    static let broker = "broker: {ca_file: ca.crt, cert_file: c.crt, key_file: c.key}"

    static func write(_ yaml: String) throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory(prefix: "edgeproof-config")
        let file = directory.appending("config.yaml")
        try Data(yaml.utf8).write(to: file)
        return (directory, file.path)
    }

    static func gateway(_ extra: String) throws -> GatewayConfiguration {
        let (directory, path) = try write(broker + "\n" + extra)
        defer { directory.remove() }
        return try GatewayConfiguration.load(file: path, environment: [:])
    }

    static func collector(_ extra: String, records: String = "") throws -> CollectorConfiguration {
        let (directory, path) = try write(
            broker + "\nallowlist_file: a.yaml\nnonce_key_file: n.keys\nrecords: {directory: /tmp/r\(records)}\n"
                + extra)
        defer { directory.remove() }
        return try CollectorConfiguration.load(file: path, environment: [:])
    }

    static func agent(_ extra: String) throws -> AgentConfiguration {
        let (directory, path) = try write(
            broker + "\nname: agent-001\nlocation: US\nspool: {directory: /tmp/s}\n" + extra)
        defer { directory.remove() }
        return try AgentConfiguration.load(file: path, environment: [:])
    }

    @Test(arguments: [
        ("trace", Logger.Level.trace), ("DEBUG", .debug), ("info", .info), ("Notice", .notice), ("warn", .warning),
        ("WARNING", .warning), ("error", .error), ("critical", .critical),
    ])
    func everyComponentTakesTheSameLogLevelNames(name: String, level: Logger.Level) throws {
        #expect(try Self.gateway("log_level: \(name)").logLevel == level)
        #expect(try Self.collector("log_level: \(name)").logLevel == level)
        let agent = try Self.agent("log_level: \(name)")
        #expect(Logger.Level(configurationName: agent.logLevel) == level)
    }

    @Test func anUnknownLogLevelIsRefusedByEveryComponentWithTheKeyNamed() throws {
        let errors: [ConfigurationError?] = [
            #expect(throws: ConfigurationError.self) { try Self.gateway("log_level: loud") },
            #expect(throws: ConfigurationError.self) { try Self.collector("log_level: loud") },
            #expect(throws: ConfigurationError.self) { try Self.agent("log_level: loud") },
        ]
        for error in errors {
            #expect(error?.key == "log_level", "\(String(describing: error))")
            #expect(error?.description.contains("warn, warning") == true, "\(String(describing: error))")
        }
    }

    @Test func allowlistPollIsOneSettingInSecondsWithFractions() throws {
        #expect(try Self.gateway("allowlist_poll_s: 0.25").allowlistPollInterval == .milliseconds(250))
        #expect(try Self.collector("allowlist_poll_s: 0.25").allowlistPollInterval == .milliseconds(250))
        #expect(try Self.collector("").allowlistPollInterval == .seconds(1))
        let error = #expect(throws: ConfigurationError.self) { try Self.collector("allowlist_poll_s: 0") }
        #expect(error?.key == "allowlist_poll_s")
        #expect(error?.description.contains("allowlist_poll_s: must be more than 0") == true)
    }

    @Test func durationsAreSecondsWithFractions() throws {
        #expect(try Duration.configurationSeconds(1.5, key: "x_s") == .milliseconds(1500))
        #expect(throws: ConfigurationError(key: "x_s", problem: "must be more than 0 and at most 10 seconds, not 11.0")) {
            try Duration.configurationSeconds(11, key: "x_s", maximum: 10)
        }
        #expect(throws: ConfigurationError.self) { try Duration.configurationSeconds(.infinity, key: "x_s") }
        #expect(throws: ConfigurationError.self) { try Duration.configurationSeconds(.nan, key: "x_s") }
        #expect(try Duration.configurationSeconds(0, key: "x_s", allowZero: true) == .zero)
    }

    @Test func everyDurationKeyOfGatewayAndCollectorIsADurationReadFromSeconds() throws {
        let gateway = try Self.gateway("status_interval_s: 2.5\nmax_clock_skew_s: 0")
        #expect(gateway.statusInterval == .milliseconds(2500))
        #expect(gateway.maximumClockSkew == .zero)
        let collector = try Self.collector(
            "nonce_lifetime_s: 120\nmax_clock_skew_s: 30", records: ", max_file_age_s: 0.5, retain_age_s: 0")
        #expect(collector.nonceLifetime == .seconds(120))
        #expect(collector.maximumClockSkew == .seconds(30))
        #expect(collector.records.maximumFileAge == .milliseconds(500))
        #expect(collector.records.retainAge == .zero)
        #expect(collector.records.limits.maximumFileAge == .milliseconds(500))
    }

    @Test(arguments: [
        ("", ", max_file_age_s: -1", "records.max_file_age_s", "must be more than 0"),
        ("", ", retain_age_s: -1", "records.retain_age_s", "must be at least 0"),
        ("nonce_lifetime_s: 86401", "", "nonce_lifetime_s", "at most 86400 seconds"),
        ("nonce_lifetime_s: 1.5", "", "nonce_lifetime_s", "whole number of seconds"),
        ("max_clock_skew_s: 2.5", "", "max_clock_skew_s", "whole number of seconds"),
    ])
    func aCollectorDurationOutOfBoundsIsRefusedWithItsKeyNamed(
        yaml: String, records: String, key: String, problem: String
    ) {
        let error = #expect(throws: ConfigurationError.self) { try Self.collector(yaml, records: records) }
        #expect(error?.key == key, "\(String(describing: error))")
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
    }

    @Test func aGatewayDurationOutOfBoundsIsRefusedWithItsKeyNamed() {
        let error = #expect(throws: ConfigurationError.self) { try Self.gateway("status_interval_s: 0") }
        #expect(error?.key == "status_interval_s")
        let skew = #expect(throws: ConfigurationError.self) { try Self.gateway("max_clock_skew_s: -5") }
        #expect(skew?.key == "max_clock_skew_s")
    }

    @Test func anErrorNamesTheSourceTheKeyAndTheProblem() {
        let error = ConfigurationError(key: "sample_interval_s", problem: "must be more than 0").from("agent.yaml")
        #expect(error.description == "configuration from agent.yaml is invalid: sample_interval_s: must be more than 0")
    }
}
