import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import Foundation
import Logging

/// Loading from YAML plus environment overrides.
///
/// ```yaml
/// id: registrar-1                 # default registrar-1; also the certificate CN (registrar*) and MQTT client id
/// broker: …                       # required (BrokerSettings, as the collector's)
/// allowlist_file: allowlist.yaml  # required; its policy.platform is applied to every enrollment
/// trust_store: /etc/edgeproof/tpm-ca   # directory of manufacturer CA PEMs; absent: no EK certificate chains
/// ek_certificate_dir: /var/lib/edgeproof/ek   # required; full EK certificates as <ek_public_hash>.der
/// token_key_file: registrar.keys  # required; shared by all registrars (`<id>:<base64 secret>` per line)
/// token_lifetime_s: 120           # 120; whole seconds between challenge and finish
/// allow_pinning_fallback: false   # false: an EK certificate that does not chain is refused
/// pcrs: [0, 1, 2, 3, 4, 5, 6, 7]  # SHA-256 bank PCRs quoted
/// max_request_bytes: 16384        # 16384; larger requests are refused unread
/// rate_limit:
///   burst: 6                      # requests an agent may send at once (a begin and a finish take two)
///   per_second: 0.2               # refill rate
/// allowlist_poll_s: 1             # 1
/// log_level: info
/// metrics: {listen: 127.0.0.1:9467}   # none; GET /metrics (Prometheus), /healthz, /readyz (connected, subscribed)
/// ```
///
/// Environment variables: `EDGEPROOF_REGISTRAR_ID` (id), `EDGEPROOF_BROKER_HOST`, `EDGEPROOF_BROKER_PORT`,
/// `EDGEPROOF_ALLOWLIST` (allowlist_file), `LOG_LEVEL`.
///
/// Requests arrive through the share group `$share/registrars/…`: one registrar answers each, and any
/// registrar finishes what another began (the token is sealed under the shared key).
extension RegistrarConfiguration: LoadableConfiguration {
    public static let environmentOverrides: [String: String] = [
        "EDGEPROOF_REGISTRAR_ID": "id",
        "EDGEPROOF_BROKER_HOST": "broker.host",
        "EDGEPROOF_BROKER_PORT": "broker.port",
        "EDGEPROOF_ALLOWLIST": "allowlist_file",
        "LOG_LEVEL": "log_level",
    ]

    public func validate() throws(ConfigurationError) {
        func fail(_ key: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(key: key, problem: problem)
        }
        guard AgentName.isValid(id) else { throw fail("id", "\"\(id)\" is invalid (it is a topic level)") }
        guard (1...65535).contains(broker.port) else { throw fail("broker.port", "\(broker.port) is not a TCP port") }
        try tokenLifetime.validate(key: "token_lifetime_s", wholeSeconds: true, maximum: 3600)
        guard !pcrs.isEmpty, pcrs.allSatisfy({ (0..<24).contains($0) }) else {
            throw fail("pcrs", "must list PCR indices 0-23")
        }
        guard maximumRequestBytes >= 1024 else { throw fail("max_request_bytes", "must be at least 1024") }
        guard rateBurst >= 2 else { throw fail("rate_limit.burst", "must be at least 2 (a begin and a finish)") }
        guard ratePerSecond > 0 else { throw fail("rate_limit.per_second", "must be positive") }
        try allowlistPollInterval.validate(key: "allowlist_poll_s")
    }

    enum CodingKeys: String, CodingKey {
        case id, broker
        case allowlistFile = "allowlist_file"
        case trustStore = "trust_store"
        case ekCertificateDirectory = "ek_certificate_dir"
        case tokenKeyFile = "token_key_file"
        case tokenLifetime = "token_lifetime_s"
        case allowPinningFallback = "allow_pinning_fallback"
        case pcrs
        case maximumRequestBytes = "max_request_bytes"
        case rateLimit = "rate_limit"
        case allowlistPollInterval = "allowlist_poll_s"
        case logLevel = "log_level"
        case metricsEndpoint = "metrics"
    }

    private enum RateKeys: String, CodingKey {
        case burst
        case perSecond = "per_second"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RegistrarConfiguration()
        var burst = defaults.rateBurst
        var perSecond = defaults.ratePerSecond
        if container.contains(.rateLimit) {
            let rate = try container.nestedContainer(keyedBy: RateKeys.self, forKey: .rateLimit)
            burst = try rate.decodeIfPresent(Int.self, forKey: .burst) ?? burst
            perSecond = try rate.decodeIfPresent(Double.self, forKey: .perSecond) ?? perSecond
        }
        self.init(
            id: try container.decodeIfPresent(String.self, forKey: .id) ?? defaults.id,
            broker: try container.decode(BrokerSettings.self, forKey: .broker),
            allowlistFile: try container.decode(String.self, forKey: .allowlistFile),
            trustStore: try container.decodeIfPresent(String.self, forKey: .trustStore),
            ekCertificateDirectory: try container.decode(String.self, forKey: .ekCertificateDirectory),
            tokenKeyFile: try container.decode(String.self, forKey: .tokenKeyFile),
            tokenLifetime: try container.decodeDurationIfPresent(forKey: .tokenLifetime, wholeSeconds: true)
                ?? defaults.tokenLifetime,
            allowPinningFallback: try container.decodeIfPresent(Bool.self, forKey: .allowPinningFallback)
                ?? defaults.allowPinningFallback,
            pcrs: try container.decodeIfPresent([Int].self, forKey: .pcrs) ?? defaults.pcrs,
            maximumRequestBytes: try container.decodeIfPresent(Int.self, forKey: .maximumRequestBytes)
                ?? defaults.maximumRequestBytes,
            rateBurst: burst, ratePerSecond: perSecond,
            allowlistPollInterval: try container.decodeDurationIfPresent(forKey: .allowlistPollInterval)
                ?? defaults.allowlistPollInterval,
            logLevel: try container.decodeLogLevelIfPresent(forKey: .logLevel) ?? defaults.logLevel)
        metricsEndpoint = try container.decodeIfPresent(MetricsEndpointSettings.self, forKey: .metricsEndpoint)
    }
}
