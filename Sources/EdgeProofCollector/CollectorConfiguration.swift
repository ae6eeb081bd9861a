import EdgeProofMQTT
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
        public var maximumFileAgeSeconds: Int
        /// 0 keeps all closed files.
        public var retainFiles: Int
        /// 0 keeps closed files forever.
        public var retainAgeSeconds: Int
        public var fsync: Bool

        public init(
            directory: String = "records", maximumFileBytes: Int = 64 * 1024 * 1024, maximumFileAgeSeconds: Int = 3600,
            retainFiles: Int = 0, retainAgeSeconds: Int = 0, fsync: Bool = true
        ) {
            self.directory = directory
            self.maximumFileBytes = maximumFileBytes
            self.maximumFileAgeSeconds = maximumFileAgeSeconds
            self.retainFiles = retainFiles
            self.retainAgeSeconds = retainAgeSeconds
            self.fsync = fsync
        }

        /// The rotation and retention limits for a ``RotatingJSONLinesFile``.
        public var limits: RotatingJSONLinesFile.Limits {
            RotatingJSONLinesFile.Limits(
                maximumFileBytes: maximumFileBytes, maximumFileAge: maximumFileAgeSeconds, retainFiles: retainFiles,
                retainAge: retainAgeSeconds, fsync: fsync)
        }
    }

    /// The collector's id: its certificate CN, MQTT client id, and `{id}` of its status and event topics.
    public var id: String
    public var broker: BrokerSettings
    public var allowlistFile: String
    public var nonceKeyFile: String
    public var nonceLifetimeSeconds: Int
    public var nonceSubscription: NonceSubscription
    public var records: Records
    /// nil: `<records.directory>/events`.
    public var eventsDirectory: String?
    public var maximumEnvelopeBytes: Int
    /// How far a signed timestamp may lie outside its nonce's validity window, both ways.
    public var maximumClockSkewSeconds: Int
    /// How often the allowlist file is checked for changes, in seconds (`allowlist_poll_s`, as the gateway's).
    public var allowlistPollSeconds: Double
    public var logLevel: Logger.Level

    public init(
        id: String = "collector-1",
        broker: BrokerSettings = BrokerSettings(
            caFile: "ca.crt", certificateFile: "collector-1.crt", keyFile: "collector-1.key"),
        allowlistFile: String = "allowlist.yaml",
        nonceKeyFile: String = "nonce.keys",
        nonceLifetimeSeconds: Int = 300,
        nonceSubscription: NonceSubscription = .shared,
        records: Records = Records(),
        eventsDirectory: String? = nil,
        maximumEnvelopeBytes: Int = 262_144,
        maximumClockSkewSeconds: Int = 300,
        allowlistPollSeconds: Double = 1,
        logLevel: Logger.Level = .info
    ) {
        self.id = id
        self.broker = broker
        self.allowlistFile = allowlistFile
        self.nonceKeyFile = nonceKeyFile
        self.nonceLifetimeSeconds = nonceLifetimeSeconds
        self.nonceSubscription = nonceSubscription
        self.records = records
        self.eventsDirectory = eventsDirectory
        self.maximumEnvelopeBytes = maximumEnvelopeBytes
        self.maximumClockSkewSeconds = maximumClockSkewSeconds
        self.allowlistPollSeconds = allowlistPollSeconds
        self.logLevel = logLevel
    }

    /// `events_directory`, or its default under the records directory.
    public var resolvedEventsDirectory: String {
        eventsDirectory ?? URL(fileURLWithPath: records.directory).appendingPathComponent("events").path
    }
}
