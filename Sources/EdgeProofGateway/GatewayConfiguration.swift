import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import Logging

/// Everything the gateway needs to run. Load it from YAML and the environment with
/// ``load(file:environment:)`` (see `GatewayConfiguration+Loading.swift` for the keys), or build it
/// in code; every property has a default.
public struct GatewayConfiguration: Sendable {
    /// The gateway's id: its client id on the broker, the CN of its certificate, and `{id}` of
    /// `events/gateway/{id}` and `status/gateway/{id}`. The broker gives the gateway role to CNs
    /// beginning with `gateway`.
    public var id: String
    /// Broker address, certificates and topic prefix. With ``upstream``, the site's broker.
    public var broker: BrokerSettings
    /// The central broker this gateway bridges its site to (`upstream:`, the keys of `broker:`); nil
    /// runs the gateway on one broker. See ``RelaySettings``.
    public var upstream: BrokerSettings?
    /// The durable queues and pacing of the site bridge (`relay:`); used only with ``upstream``.
    public var relay: RelaySettings
    public var mode: GatewayMode
    /// The allowlist file (JSON or YAML); required in enforce mode, unused in passthrough mode.
    public var allowlistFile: String?
    /// Largest accepted difference between an envelope's signing time and the gateway's clock,
    /// in either direction (`max_clock_skew_s`, whole seconds).
    public var maximumClockSkew: Duration
    /// Envelopes above this many bytes are rejected (`payload_too_large`) in enforce mode.
    public var maximumEnvelopeBytes: Int
    /// How often the retained online status (with counters) is republished (`status_interval_s`).
    public var statusInterval: Duration
    /// How often the allowlist file is checked for changes (`allowlist_poll_s`).
    public var allowlistPollInterval: Duration
    /// What an agent's key must prove beyond being allowlisted (`require_trust_level`, …).
    public var trustRequirement: TrustRequirement
    public var logLevel: Logger.Level
    /// `metrics: {listen: HOST:PORT}`: serve `/metrics`, `/healthz` and `/readyz` there; nil: no endpoint.
    public var metricsEndpoint: MetricsEndpointSettings?

    public init(
        id: String = "gateway",
        broker: BrokerSettings = BrokerSettings(
            caFile: "ca.crt", certificateFile: "gateway.crt", keyFile: "gateway.key"),
        upstream: BrokerSettings? = nil,
        relay: RelaySettings = RelaySettings(),
        mode: GatewayMode = .passthrough,
        allowlistFile: String? = nil,
        maximumClockSkew: Duration = .seconds(300),
        maximumEnvelopeBytes: Int = SignedEnvelope.defaultMaximumSize,
        statusInterval: Duration = .seconds(10),
        allowlistPollInterval: Duration = .seconds(1),
        trustRequirement: TrustRequirement = TrustRequirement(),
        logLevel: Logger.Level = .info
    ) {
        self.id = id
        self.broker = broker
        self.upstream = upstream
        self.relay = relay
        self.mode = mode
        self.allowlistFile = allowlistFile
        self.maximumClockSkew = maximumClockSkew
        self.maximumEnvelopeBytes = maximumEnvelopeBytes
        self.statusInterval = statusInterval
        self.allowlistPollInterval = allowlistPollInterval
        self.trustRequirement = trustRequirement
        self.logLevel = logLevel
    }

    /// The topic tree under the broker's prefix.
    public var topics: TopicTree { TopicTree(prefix: broker.topicPrefix) }

    /// Throws a ``ConfigurationError`` naming the first key whose value cannot work.
    public func validate() throws(ConfigurationError) {
        func fail(_ key: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(key: key, problem: problem)
        }
        guard AgentName.isValid(id) else {
            throw fail("id", "\"\(id)\" is invalid; use 1-64 letters, digits, '.', '_' or '-'")
        }
        if mode == .enforce, (allowlistFile ?? "").isEmpty {
            throw fail("allowlist_file", "mode enforce needs allowlist_file (or EDGEPROOF_ALLOWLIST)")
        }
        try maximumClockSkew.validate(key: CodingKeys.maximumClockSkew.rawValue, allowZero: true, wholeSeconds: true)
        guard maximumEnvelopeBytes > 0 else { throw fail("max_envelope_bytes", "must be positive") }
        try statusInterval.validate(key: CodingKeys.statusInterval.rawValue)
        try allowlistPollInterval.validate(key: CodingKeys.allowlistPollInterval.rawValue)
        guard (1...65535).contains(broker.port) else { throw fail("broker.port", "\(broker.port) is not a TCP port") }
        if let upstream {
            guard (1...65535).contains(upstream.port) else {
                throw fail("upstream.port", "\(upstream.port) is not a TCP port")
            }
            if upstream.host == broker.host, upstream.port == broker.port {
                throw fail("upstream", "is the site broker itself (\(broker.host):\(broker.port)); the bridge needs two brokers")
            }
            try relay.validate()
        }
    }
}

extension GatewayConfiguration: Decodable {
    enum CodingKeys: String, CodingKey {
        case id, broker, upstream, relay, mode
        case allowlistFile = "allowlist_file"
        case maximumClockSkew = "max_clock_skew_s"
        case maximumEnvelopeBytes = "max_envelope_bytes"
        case statusInterval = "status_interval_s"
        case allowlistPollInterval = "allowlist_poll_s"
        case requireTrustLevel = "require_trust_level"
        case requireTrustLevelByAgent = "require_trust_level_by_agent"
        case maximumAttestationAge = "max_attestation_age_s"
        case logLevel = "log_level"
        case metricsEndpoint = "metrics"
    }

    public init(from decoder: any Decoder) throws {
        let defaults = GatewayConfiguration()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id) ?? defaults.id
        broker = try container.decode(BrokerSettings.self, forKey: .broker)
        upstream = try container.decodeIfPresent(BrokerSettings.self, forKey: .upstream)
        relay = try container.decodeIfPresent(RelaySettings.self, forKey: .relay) ?? defaults.relay
        mode = try container.decodeIfPresent(GatewayMode.self, forKey: .mode) ?? defaults.mode
        allowlistFile = try container.decodeIfPresent(String.self, forKey: .allowlistFile)
        maximumClockSkew =
            try container.decodeDurationIfPresent(forKey: .maximumClockSkew, allowZero: true, wholeSeconds: true)
            ?? defaults.maximumClockSkew
        maximumEnvelopeBytes =
            try container.decodeIfPresent(Int.self, forKey: .maximumEnvelopeBytes) ?? defaults.maximumEnvelopeBytes
        statusInterval = try container.decodeDurationIfPresent(forKey: .statusInterval) ?? defaults.statusInterval
        allowlistPollInterval =
            try container.decodeDurationIfPresent(forKey: .allowlistPollInterval) ?? defaults.allowlistPollInterval
        trustRequirement = try container.decodeTrustRequirement(
            level: .requireTrustLevel, byAgent: .requireTrustLevelByAgent, maximumAge: .maximumAttestationAge)
        logLevel = try container.decodeLogLevelIfPresent(forKey: .logLevel) ?? defaults.logLevel
        metricsEndpoint = try container.decodeIfPresent(MetricsEndpointSettings.self, forKey: .metricsEndpoint)
    }
}
