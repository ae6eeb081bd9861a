import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging

/// Loading from YAML plus environment overrides.
///
/// ```yaml
/// id: collector-1                 # default collector-1; also the certificate CN and MQTT client id
/// broker:                         # required (BrokerSettings), or:
/// brokers: [{...}, {...}]         # partitioned brokers: one collector stores from all (same topic_prefix)
///   host: 127.0.0.1               # 127.0.0.1
///   port: 8883                    # 8883
///   ca_file: ca.crt               # required
///   cert_file: collector-1.crt    # required
///   key_file: collector-1.key     # required
///   keepalive: 30                 # 30
///   topic_prefix: edgeproof/v1    # edgeproof/v1
///   max_pending_publishes: 1000   # 1000
/// allowlist_file: allowlist.yaml  # required; reloaded when it changes and on SIGHUP
/// nonce_key_file: nonce.keys      # required; `<id 1-255>:<base64 secret ≥ 32 bytes>` per line, first = current
/// nonce_lifetime_s: 300           # 300; whole seconds, at most 86400
/// nonce_subscription: shared      # shared | all (see below)
/// records:
///   directory: /var/lib/edgeproof/records   # required
///   max_file_bytes: 67108864      # 64 MiB
///   max_file_age_s: 3600          # 3600
///   retain_files: 0               # 0 = keep all closed files
///   retain_age_s: 0               # 0 = keep forever
///   fsync: true                   # true: a record is fsynced before its receipt is sent
/// otlp:                           # none; also every accepted envelope as OTLP JSON (ExportMetricsServiceRequest
///   directory: …/otlp             #   per line, metrics-<UTC>-<seq>.jsonl), rotated and retained with the keys
///   max_file_bytes: 67108864      #   of records: (same defaults); a receipt waits for both files' fsync
/// events_directory: …             # default <records.directory>/events
/// max_envelope_bytes: 262144      # 262144
/// max_clock_skew_s: 300           # 300; a signed timestamp must lie in its nonce's validity window ± this
///                                 # (issued = expiry − nonce_lifetime_s: collectors sharing a nonce key share it)
/// allowlist_poll_s: 1             # 1; how often the allowlist file is checked for changes (fractions allowed)
/// require_trust_level: configured # configured | tpm-ek-pinned | tpm-ek-cert: the least an agent's key must prove
/// require_trust_level_by_agent:   # {}; per agent, instead of require_trust_level: {legacy-box: configured}
/// max_attestation_age_s: …        # none; a TPM-attested key last attested longer ago is refused
///                                 # (agent_verification / agent_not_attested, as below the level)
/// log_level: info                 # trace | debug | info | notice | warn | warning | error | critical
/// metrics:                        # none; serve GET /metrics (Prometheus), /healthz and /readyz
///   listen: 127.0.0.1:9466        # an IPv4 address and port; /readyz: connected, subscribed, records writable
/// ```
///
/// Environment variables override single keys: `EDGEPROOF_COLLECTOR_ID` (id), `EDGEPROOF_BROKER_HOST`
/// (broker.host), `EDGEPROOF_BROKER_PORT` (broker.port), `EDGEPROOF_ALLOWLIST` (allowlist_file),
/// `LOG_LEVEL` (log_level).
///
/// `nonce_subscription`: with `shared`, the collectors form the share group `collectors` and one of
/// them answers each request. The broker in `broker/` refuses a SUBSCRIBE to that group from any
/// identity that may not read `verified/` (mosquitto picks a group member before it checks read rights,
/// so a member without them would swallow its share of the requests); a broker that grants every
/// SUBSCRIBE (plain `acl_file`) needs `all`. With `all`, every collector receives and answers every
/// request, at the cost of N answers per request; the agent keeps the first and drops the rest as
/// unmatched. Any answer works everywhere, because every collector accepts every collector's nonces.
extension CollectorConfiguration: LoadableConfiguration {
    /// Environment variable → dotted configuration key.
    public static let environmentOverrides: [String: String] = [
        "EDGEPROOF_COLLECTOR_ID": "id",
        "EDGEPROOF_BROKER_HOST": "broker.host",
        "EDGEPROOF_BROKER_PORT": "broker.port",
        "EDGEPROOF_ALLOWLIST": "allowlist_file",
        "LOG_LEVEL": "log_level",
    ]

    /// Checks values that decode but cannot work; the error names the key.
    public func validate() throws(ConfigurationError) {
        func fail(_ key: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(key: key, problem: problem)
        }
        guard AgentName.isValid(id) else {
            throw fail("id", "\"\(id)\" is invalid: use 1-64 letters, digits, '.', '_' or '-' (it is a topic level)")
        }
        for (index, settings) in brokers.enumerated() {
            let key = additionalBrokers.isEmpty ? "broker" : "brokers[\(index)]"
            guard (1...65535).contains(settings.port) else { throw fail("\(key).port", "\(settings.port) is not a TCP port") }
            guard settings.topicPrefix == broker.topicPrefix else {
                throw fail("\(key).topic_prefix", "\(settings.topicPrefix) differs from the first broker's \(broker.topicPrefix)")
            }
            if brokers[..<index].contains(where: { $0.host == settings.host && $0.port == settings.port }) {
                throw fail(key, "\(settings.host):\(settings.port) is listed twice")
            }
        }
        try nonceLifetime.validate(key: "nonce_lifetime_s", wholeSeconds: true, maximum: Self.maximumNonceLifetime)
        guard maximumEnvelopeBytes > 0 else { throw fail("max_envelope_bytes", "must be positive") }
        try maximumClockSkew.validate(key: "max_clock_skew_s", allowZero: true, wholeSeconds: true)
        try allowlistPollInterval.validate(key: "allowlist_poll_s")
        guard !records.directory.isEmpty else { throw fail("records.directory", "must not be empty") }
        guard records.maximumFileBytes > 0 else { throw fail("records.max_file_bytes", "must be positive") }
        try records.maximumFileAge.validate(key: "records.max_file_age_s")
        guard records.retainFiles >= 0 else { throw fail("records.retain_files", "must not be negative") }
        try records.retainAge.validate(key: "records.retain_age_s", allowZero: true)
        if let otlp {
            guard !otlp.directory.isEmpty else { throw fail("otlp.directory", "must not be empty") }
            guard otlp.directory != records.directory else {
                throw fail("otlp.directory", "must differ from records.directory (both rotate their own files)")
            }
            guard otlp.maximumFileBytes > 0 else { throw fail("otlp.max_file_bytes", "must be positive") }
            try otlp.maximumFileAge.validate(key: "otlp.max_file_age_s")
            guard otlp.retainFiles >= 0 else { throw fail("otlp.retain_files", "must not be negative") }
            try otlp.retainAge.validate(key: "otlp.retain_age_s", allowZero: true)
        }
    }

    /// A day: nonces live minutes, not days.
    static let maximumNonceLifetime: Double = 86_400

    enum CodingKeys: String, CodingKey {
        case id, broker, brokers
        case allowlistFile = "allowlist_file"
        case nonceKeyFile = "nonce_key_file"
        case nonceLifetime = "nonce_lifetime_s"
        case nonceSubscription = "nonce_subscription"
        case records
        case eventsDirectory = "events_directory"
        case maximumEnvelopeBytes = "max_envelope_bytes"
        case maximumClockSkew = "max_clock_skew_s"
        case allowlistPollInterval = "allowlist_poll_s"
        case requireTrustLevel = "require_trust_level"
        case requireTrustLevelByAgent = "require_trust_level_by_agent"
        case maximumAttestationAge = "max_attestation_age_s"
        case logLevel = "log_level"
        case metricsEndpoint = "metrics"
        case otlp
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = CollectorConfiguration()
        // `broker:` (one) or `brokers:` (partitions), not both.
        let list = try container.decodeIfPresent([BrokerSettings].self, forKey: .brokers)
        if list != nil, container.contains(.broker) {
            throw DecodingError.dataCorruptedError(
                forKey: .brokers, in: container, debugDescription: "give broker: or brokers:, not both")
        }
        if let list, list.isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .brokers, in: container, debugDescription: "lists no broker")
        }
        let first = try list?.first ?? container.decode(BrokerSettings.self, forKey: .broker)
        self.init(
            id: try container.decodeIfPresent(String.self, forKey: .id) ?? defaults.id,
            broker: first,
            allowlistFile: try container.decode(String.self, forKey: .allowlistFile),
            nonceKeyFile: try container.decode(String.self, forKey: .nonceKeyFile),
            nonceLifetime: try container.decodeDurationIfPresent(
                forKey: .nonceLifetime, wholeSeconds: true, maximum: Self.maximumNonceLifetime)
                ?? defaults.nonceLifetime,
            nonceSubscription: try container.decodeIfPresent(NonceSubscription.self, forKey: .nonceSubscription)
                ?? defaults.nonceSubscription,
            records: try container.decode(Records.self, forKey: .records),
            eventsDirectory: try container.decodeIfPresent(String.self, forKey: .eventsDirectory),
            maximumEnvelopeBytes: try container.decodeIfPresent(Int.self, forKey: .maximumEnvelopeBytes)
                ?? defaults.maximumEnvelopeBytes,
            maximumClockSkew: try container.decodeDurationIfPresent(
                forKey: .maximumClockSkew, allowZero: true, wholeSeconds: true) ?? defaults.maximumClockSkew,
            allowlistPollInterval: try container.decodeDurationIfPresent(forKey: .allowlistPollInterval)
                ?? defaults.allowlistPollInterval,
            trustRequirement: try container.decodeTrustRequirement(
                level: .requireTrustLevel, byAgent: .requireTrustLevelByAgent, maximumAge: .maximumAttestationAge),
            logLevel: try container.decodeLogLevelIfPresent(forKey: .logLevel) ?? defaults.logLevel)
        additionalBrokers = Array((list ?? []).dropFirst())
        metricsEndpoint = try container.decodeIfPresent(MetricsEndpointSettings.self, forKey: .metricsEndpoint)
        otlp = try container.decodeIfPresent(Records.self, forKey: .otlp)
    }
}

extension CollectorConfiguration.Records {
    enum CodingKeys: String, CodingKey {
        case directory
        case maximumFileBytes = "max_file_bytes"
        case maximumFileAge = "max_file_age_s"
        case retainFiles = "retain_files"
        case retainAge = "retain_age_s"
        case fsync
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        self.init(
            directory: try container.decode(String.self, forKey: .directory),
            maximumFileBytes: try container.decodeIfPresent(Int.self, forKey: .maximumFileBytes)
                ?? defaults.maximumFileBytes,
            maximumFileAge: try container.decodeDurationIfPresent(forKey: .maximumFileAge) ?? defaults.maximumFileAge,
            retainFiles: try container.decodeIfPresent(Int.self, forKey: .retainFiles) ?? defaults.retainFiles,
            retainAge: try container.decodeDurationIfPresent(forKey: .retainAge, allowZero: true) ?? defaults.retainAge,
            fsync: try container.decodeIfPresent(Bool.self, forKey: .fsync) ?? defaults.fsync)
    }
}
