import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging

/// Everything a collector needs to run. Keys, defaults and environment overrides are listed in
/// `CollectorConfiguration+Loading.swift`.
public struct CollectorConfiguration: Sendable, Decodable {
    /// How nonce requests reach this collector.
    public enum NonceSubscription: String, Sendable, Hashable, Codable {
        /// `$share/collectors/{prefix}/verified/+/nonce/request`: one collector answers each request.
        case shared
        /// A plain subscription: every collector answers every request.
        case all
    }

    /// Where accepted records go and how their files rotate.
    public struct Records: Sendable, Hashable, Decodable {
        public var directory: String
        public var maximumFileBytes: Int
        /// `max_file_age_s`: a file this old is closed and a new one begun.
        public var maximumFileAge: Duration
        /// 0 keeps all closed files.
        public var retainFiles: Int
        /// `retain_age_s`; zero keeps closed files forever.
        public var retainAge: Duration
        public var fsync: Bool

        public init(
            directory: String = "records", maximumFileBytes: Int = 64 * 1024 * 1024,
            maximumFileAge: Duration = .seconds(3600), retainFiles: Int = 0, retainAge: Duration = .zero,
            fsync: Bool = true
        ) {
            self.directory = directory
            self.maximumFileBytes = maximumFileBytes
            self.maximumFileAge = maximumFileAge
            self.retainFiles = retainFiles
            self.retainAge = retainAge
            self.fsync = fsync
        }

        /// The rotation and retention limits for a ``RotatingJSONLinesFile``.
        public var limits: RotatingJSONLinesFile.Limits {
            RotatingJSONLinesFile.Limits(
                maximumFileBytes: maximumFileBytes, maximumFileAge: maximumFileAge, retainFiles: retainFiles,
                retainAge: retainAge, fsync: fsync)
        }
    }

    /// The collector's id: its certificate CN, MQTT client id, and `{id}` of its status and event topics.
    public var id: String
    /// The broker (with `brokers:`, the first of them).
    public var broker: BrokerSettings
    /// The further brokers of a partitioned deployment (`brokers:` after the first): agents are pinned to
    /// one broker each, with a gateway per broker; this collector stores what arrives from all of them.
    public var additionalBrokers: [BrokerSettings] = []
    public var allowlistFile: String
    public var nonceKeyFile: String
    /// `nonce_lifetime_s`, whole seconds (nonces carry their expiry in seconds).
    public var nonceLifetime: Duration
    public var nonceSubscription: NonceSubscription
    public var records: Records
    /// nil: `<records.directory>/events`.
    public var eventsDirectory: String?
    public var maximumEnvelopeBytes: Int
    /// How far a signed timestamp may lie outside its nonce's validity window, both ways
    /// (`max_clock_skew_s`, whole seconds).
    public var maximumClockSkew: Duration
    /// How often the allowlist file is checked for changes (`allowlist_poll_s`, as the gateway's).
    public var allowlistPollInterval: Duration
    /// What an agent's key must prove beyond being allowlisted (`require_trust_level`, …).
    public var trustRequirement: TrustRequirement
    public var logLevel: Logger.Level
    /// `metrics: {listen: HOST:PORT}`: serve `/metrics`, `/healthz` and `/readyz` there; nil: no endpoint.
    public var metricsEndpoint: MetricsEndpointSettings?
    /// `otlp:` (the keys of `records:`): also write every accepted envelope as OTLP JSON Lines there,
    /// `metrics-<UTC time>-<seq>.jsonl`; nil: records only.
    public var otlp: Records?

    public init(
        id: String = "collector-1",
        broker: BrokerSettings = BrokerSettings(
            caFile: "ca.crt", certificateFile: "collector-1.crt", keyFile: "collector-1.key"),
        allowlistFile: String = "allowlist.yaml",
        nonceKeyFile: String = "nonce.keys",
        nonceLifetime: Duration = .seconds(300),
        nonceSubscription: NonceSubscription = .shared,
        records: Records = Records(),
        eventsDirectory: String? = nil,
        maximumEnvelopeBytes: Int = 262_144,
        maximumClockSkew: Duration = .seconds(300),
        allowlistPollInterval: Duration = .seconds(1),
        trustRequirement: TrustRequirement = TrustRequirement(),
        logLevel: Logger.Level = .info
    ) {
        self.id = id
        self.broker = broker
        self.allowlistFile = allowlistFile
        self.nonceKeyFile = nonceKeyFile
        self.nonceLifetime = nonceLifetime
        self.nonceSubscription = nonceSubscription
        self.records = records
        self.eventsDirectory = eventsDirectory
        self.maximumEnvelopeBytes = maximumEnvelopeBytes
        self.maximumClockSkew = maximumClockSkew
        self.allowlistPollInterval = allowlistPollInterval
        self.trustRequirement = trustRequirement
        self.logLevel = logLevel
    }

    /// Every broker this collector serves, the first one first.
    public var brokers: [BrokerSettings] { [broker] + additionalBrokers }

    /// `events_directory`, or its default under the records directory.
    public var resolvedEventsDirectory: String {
        eventsDirectory ?? URL(fileURLWithPath: records.directory).appendingPathComponent("events").path
    }
}
