import EdgeProofService
import Foundation

/// The gateway configuration loads from a YAML file (optional) and environment variables that
/// override single keys (``LoadableConfiguration/load(file:environment:)``), then is checked.
///
/// Keys (defaults in parentheses):
/// - `id` ("gateway"): client id, certificate CN, `{id}` of the gateway's event and status topics.
/// - `broker:` (required): `host` (127.0.0.1), `port` (8883), `ca_file`, `cert_file`, `key_file`
///   (all three required), `keepalive` (30), `topic_prefix` (edgeproof/v1), `max_pending_publishes` (1000).
/// - `upstream:` (none): the central broker, same keys as `broker:`. With it the gateway bridges its site:
///   `broker:` is the site's broker, agent traffic goes up and the collectors' answers come down (see
///   ``RelaySettings`` for `relay:`, required then: `directory`, `max_bytes`, `max_age_s`, `when_full`,
///   `release_per_s`, `release_burst`).
/// - `mode` (passthrough): `passthrough` or `enforce`; the prototype's `gateway-policy-enforcement`
///   and `gateway-allowlist` mean enforce.
/// - `allowlist_file` (none): JSON or YAML allowlist; required in enforce mode, ignored in passthrough.
/// - `max_clock_skew_s` (300): allowed distance (whole seconds) between an envelope's timestamp and the clock.
/// - `max_envelope_bytes` (262144): larger envelopes are rejected as `payload_too_large`.
/// - `status_interval_s` (10): how often the retained online status with counters is republished (fractions allowed).
/// - `allowlist_poll_s` (1): how often the allowlist file is checked for changes.
/// - `require_trust_level` (configured): `configured`, `tpm-ek-pinned` or `tpm-ek-cert`, the least an agent's
///   key must prove; `require_trust_level_by_agent` ({}) sets it per agent; `max_attestation_age_s` (none):
///   a TPM-attested key last attested longer ago is refused. Both refuse as `agent_not_attested`.
/// - `log_level` (info): trace, debug, info, notice, warn, warning, error, critical (any case).
/// - `metrics` (none): `{listen: 127.0.0.1:9465}` serves `GET /metrics` (Prometheus), `/healthz` and
///   `/readyz` (connected, to both brokers on a site bridge, and subscribed).
///
/// Environment variables (override the file):
/// `GATEWAY_MODE` → `mode`, `EDGEPROOF_BROKER_HOST` → `broker.host`, `EDGEPROOF_BROKER_PORT` →
/// `broker.port`, `EDGEPROOF_TOPIC_PREFIX` → `broker.topic_prefix`, `EDGEPROOF_ALLOWLIST` →
/// `allowlist_file`, `LOG_LEVEL` → `log_level`.
///
/// Relative file names (certificates, allowlist) are taken as they are, relative to the working
/// directory of the process.
extension GatewayConfiguration: LoadableConfiguration {
    /// Environment variable → dotted configuration key.
    public static let environmentOverrides: [String: String] = [
        "GATEWAY_MODE": "mode",
        "EDGEPROOF_BROKER_HOST": "broker.host",
        "EDGEPROOF_BROKER_PORT": "broker.port",
        "EDGEPROOF_TOPIC_PREFIX": "broker.topic_prefix",
        "EDGEPROOF_ALLOWLIST": "allowlist_file",
        "LOG_LEVEL": "log_level",
    ]
}
