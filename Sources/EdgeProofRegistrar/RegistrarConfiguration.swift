import EdgeProofMQTT
import EdgeProofService
import Foundation
import Logging

/// Everything a registrar needs to run. Keys, defaults and environment overrides are listed in
/// `RegistrarConfiguration+Loading.swift`.
public struct RegistrarConfiguration: Sendable, Decodable {
    /// The registrar's id: its certificate CN (`registrar*`), MQTT client id, and `{id}` of its topics.
    public var id: String
    public var broker: BrokerSettings
    /// The allowlist (its `policy.platform` is applied here; the enrollment book writes the entries).
    public var allowlistFile: String
    /// Directory of TPM manufacturer CA certificates (PEM); nil: no EK certificate can chain.
    public var trustStore: String?
    /// Where full EK certificates are kept, as `<ek_public_hash>.der`.
    public var ekCertificateDirectory: String
    /// The registrars' shared token key file (the nonce key file's format: first key seals, all open).
    public var tokenKeyFile: String
    /// `token_lifetime_s`: how long an agent has between challenge and finish.
    public var tokenLifetime: Duration
    /// Treat an EK certificate that does not chain like an absent one (level `tpm-ek-pinned`) instead of
    /// refusing it.
    public var allowPinningFallback: Bool
    /// SHA-256 bank PCRs the agent quotes.
    public var pcrs: [Int]
    public var maximumRequestBytes: Int
    /// Per-agent token bucket: `rate_limit.burst` requests at once, `rate_limit.per_second` refill.
    public var rateBurst: Int
    public var ratePerSecond: Double
    public var allowlistPollInterval: Duration
    public var logLevel: Logger.Level
    /// `metrics: {listen: HOST:PORT}`: serve `/metrics`, `/healthz` and `/readyz` there; nil: no endpoint.
    public var metricsEndpoint: MetricsEndpointSettings?

    public init(
        id: String = "registrar-1",
        broker: BrokerSettings = BrokerSettings(
            caFile: "ca.crt", certificateFile: "registrar-1.crt", keyFile: "registrar-1.key"),
        allowlistFile: String = "allowlist.yaml",
        trustStore: String? = nil,
        ekCertificateDirectory: String = "ek-certificates",
        tokenKeyFile: String = "registrar.keys",
        tokenLifetime: Duration = .seconds(120),
        allowPinningFallback: Bool = false,
        pcrs: [Int] = Array(0...7),
        maximumRequestBytes: Int = 16 * 1024,
        rateBurst: Int = 6,
        ratePerSecond: Double = 0.2,
        allowlistPollInterval: Duration = .seconds(1),
        logLevel: Logger.Level = .info
    ) {
        self.id = id
        self.broker = broker
        self.allowlistFile = allowlistFile
        self.trustStore = trustStore
        self.ekCertificateDirectory = ekCertificateDirectory
        self.tokenKeyFile = tokenKeyFile
        self.tokenLifetime = tokenLifetime
        self.allowPinningFallback = allowPinningFallback
        self.pcrs = pcrs
        self.maximumRequestBytes = maximumRequestBytes
        self.rateBurst = rateBurst
        self.ratePerSecond = ratePerSecond
        self.allowlistPollInterval = allowlistPollInterval
        self.logLevel = logLevel
    }
}
