import EdgeProofCore
import EdgeProofService
import EdgeProofStorage
import Logging
import Foundation

/// Loading `agent.yaml`, then environment variables.
///
/// ```yaml
/// name: agent-001                    # required; = CN of the client certificate = agent_name
/// broker:                            # required (see BrokerSettings)
///   host: 127.0.0.1                  # default 127.0.0.1
///   port: 8883                       # default 8883
///   ca_file: /etc/edgeproof/ca.crt   # required
///   cert_file: …/agent-001.crt       # required
///   key_file: …/agent-001.key        # required
///   keepalive: 30                    # default 30
///   topic_prefix: edgeproof/v1       # default edgeproof/v1
///   max_pending_publishes: 1000      # default 1000
/// tpm:
///   tcti: device:/dev/tpmrm0         # default: $EDGEPROOF_TCTI, else $TPM2TOOLS_TCTI, else device:/dev/tpmrm0
///   handle: 0x81020010               # default 0x81020010 (or 0x81010010 where an older install's key is)
///   attestation_key_handle: 0x81020011   # default 0x81020011; the AK `edgeproof enroll` provisions under the EK
/// enroll: off                        # off (default) | auto: enroll at every start, send nothing before approval
/// location: US/California/Santa Clara   # required (or GEOGRAPHIC_REGION); also {region, state, city}
/// location:                          # or this object form
///   place: US/California/Santa Clara # the declared place (signed geographic_region); or region/state/city
///   source: gpsd                     # configured (default) | gpsd: sign the receiver's latest fix (source gnss)
///   gpsd: 127.0.0.1:2947             # gpsd's JSON socket, host:port; default 127.0.0.1:2947
/// geolocation:                       # optional, with source configured: a typed position, signed as source configured
///   {latitude: 37.35, longitude: -121.95, accuracy_m: 15}
/// service:                           # every member optional
///   name: edgeproof-agent            # default edgeproof-agent
///   version: 1.0.0                   # default 1.0.0
///   instance_id: agent-001           # default: the agent name
/// sample_interval_s: 10              # default 10
/// samples_per_envelope: 1            # default 1
/// application_metrics_file: …        # optional; a JSON object read at each sample (metric_type "application")
/// max_envelope_bytes: 262144         # default 262144 (as gateway and collector); batches are cut to fit
/// disk_path: /                       # default /; the file system the disk metrics describe
/// spool:
///   directory: /var/lib/edgeproof/spool   # required
///   max_bytes: 67108864              # default 64 MiB
///   max_age_s: 604800                # default 7 days
///   when_full: drop_oldest           # drop_oldest (default) | drop_newest
/// nonce_timeout_s: 10                # default 10
/// receipt_timeout_s: 30              # default 30
/// receipts_from: [collector-1, collector-2]   # default []: any one collector's receipt is enough
/// max_in_flight: 256                 # default 256; envelopes awaiting receipts at once (1–1024)
/// log_level: info                    # default info; trace debug info notice warn warning error critical
/// metrics:                            # none; serve GET /metrics (Prometheus), /healthz and /readyz
///   listen: 127.0.0.1:9464            # IPv4 address and port; /readyz: connected, subscribed, TPM signing
/// otlp_receiver:                      # none; take OTLP/HTTP metrics (POST /v1/metrics, protobuf or JSON)
///   listen: 127.0.0.1:4318            #   from applications on this device; signed with the agent's samples
///   allow_remote: false               #   default false: listen must be a loopback address
///   max_request_bytes: 1048576        #   default 1 MiB; larger requests get 413
/// ```
///
/// Environment variables override single keys (the prototype's names where it had them):
/// `EDGEPROOF_AGENT_NAME` → name, `GEOGRAPHIC_REGION` / `GEOGRAPHIC_STATE` / `GEOGRAPHIC_CITY` →
/// location.region / .state / .city, `EDGEPROOF_TCTI` → tpm.tcti, `EDGEPROOF_BROKER_HOST` /
/// `EDGEPROOF_BROKER_PORT` → broker.host / .port, `LOG_LEVEL` → log_level.
extension AgentConfiguration {
    /// Environment variables and the dotted keys they set, except the location (applied field by
    /// field after decoding, so that they also refine the "Country/State/City" string form).
    static let environmentOverrides: [String: String] = [
        "EDGEPROOF_AGENT_NAME": "name",
        "EDGEPROOF_TCTI": "tpm.tcti",
        "EDGEPROOF_BROKER_HOST": "broker.host",
        "EDGEPROOF_BROKER_PORT": "broker.port",
        "LOG_LEVEL": "log_level",
    ]

    /// Loads `file` (nil: environment only) and applies the environment; checks the result.
    public static func load(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> AgentConfiguration {
        var configuration = try ConfigurationLoader(environment: environment)
            .load(AgentConfiguration.self, file: file, overrides: environmentOverrides)
        let source = file ?? "the environment"

        func value(_ variable: String) -> String? {
            environment[variable].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        if let region = value("GEOGRAPHIC_REGION") { configuration.location.region = region }
        if let state = value("GEOGRAPHIC_STATE") { configuration.location.state = state }
        if let city = value("GEOGRAPHIC_CITY") { configuration.location.city = city }

        if configuration.tpm.tcti.isEmpty {
            configuration.tpm.tcti = value("TPM2TOOLS_TCTI") ?? "device:/dev/tpmrm0"
        }
        if configuration.service.instanceID.isEmpty { configuration.service.instanceID = configuration.name }
        do {
            try configuration.validate()
        } catch {
            throw error.from(source)
        }
        return configuration
    }

    /// Checks what decoding cannot: a valid agent name, a well-formed location, positive intervals. The
    /// error names the key.
    public func validate() throws(ConfigurationError) {
        func fail(_ key: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(key: key, problem: problem)
        }
        guard AgentName.isValid(name) else {
            throw fail("name", "\"\(name)\" is not a valid agent name (1–64 of letters, digits, . _ -)")
        }
        guard !location.region.isEmpty else {
            throw fail("location", "is required: set location: (e.g. \"US/California/Santa Clara\") or GEOGRAPHIC_REGION")
        }
        guard location.isWellFormed else {
            throw fail("location", "\(location) needs a region, and a state when it has a city")
        }
        if let geolocation {
            if let problem = geolocation.implausibility { throw fail("geolocation", problem) }
            // Typed text is no measurement: signing it as one would be the lie the policy exists to catch.
            guard geolocation.effectiveSource == .configured else {
                throw fail("geolocation", "a position in the configuration is signed as source configured, not \(geolocation.effectiveSource.rawValue)")
            }
            guard locationSettings.source == .configured else {
                throw fail("geolocation", "is for location.source configured; with gpsd the receiver's fix is signed")
            }
        }
        if locationSettings.source == .gpsd {
            guard !locationSettings.gpsdHost.isEmpty, (1...65_535).contains(locationSettings.gpsdPort) else {
                throw fail("location.gpsd", "must be host:port with a port of 1-65535")
            }
        }
        // Durations become Duration values: infinite or absurd ones would trap there or never end.
        guard sampleInterval > 0, sampleInterval <= 86_400 else {
            throw fail("sample_interval_s", "must be more than 0 and at most 86400 (a day), not \(sampleInterval)")
        }
        guard (1...100_000).contains(samplesPerEnvelope) else {
            throw fail("samples_per_envelope", "must be 1–100000, not \(samplesPerEnvelope)")
        }
        for (key, value) in [("nonce_timeout_s", nonceTimeout), ("receipt_timeout_s", receiptTimeout)]
        where !(value > 0 && value <= 3600) {
            throw fail(key, "must be more than 0 and at most 3600, not \(value)")
        }
        guard (4096...(64 * 1024 * 1024)).contains(maximumEnvelopeBytes) else {
            throw fail("max_envelope_bytes", "must be 4096–67108864, not \(maximumEnvelopeBytes)")
        }
        guard (1...1024).contains(maximumInFlight) else {
            throw fail("max_in_flight", "must be 1–1024, not \(maximumInFlight)")
        }
        for collector in receiptsFrom where !AgentName.isValid(collector) {
            throw fail("receipts_from", "\"\(collector)\" is not a valid collector id")
        }
        guard !spool.directory.isEmpty else { throw fail("spool.directory", "is required") }
        guard spool.maximumBytes > 0, spool.maximumAge > 0, spool.maximumAge <= 3_153_600_000 else {
            throw fail("spool", "max_bytes and max_age_s must be positive (max_age_s at most 100 years)")
        }
        guard Logger.Level(configurationName: logLevel) != nil else {
            throw fail(
                "log_level", "\"\(logLevel)\" is not one of \(Logger.Level.configurationNames.joined(separator: ", "))")
        }
    }
}
