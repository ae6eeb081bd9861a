import EdgeProofCore
import EdgeProofMQTT
import EdgeProofOTLPReceiver
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import Foundation

/// Everything an ``Agent`` needs to know. YAML keys, defaults and environment variables are listed
/// in `AgentConfiguration+Loading.swift`.
public struct AgentConfiguration: Sendable, Decodable {
    /// Envelopes in flight by default: enough to drain a backlog over a link of about 50 ms round trip
    /// near the signing rate of a software TPM (`edgeproof bench drain`); each holds one envelope in memory.
    public static let defaultMaximumInFlight = 256

    /// The agent name: the CN of its client certificate, its MQTT identity and the claims' `agent_name`.
    public var name: String
    public var broker: BrokerSettings
    public var tpm: TPMSettings
    /// Where the agent is: the signed `geographic_region`.
    public var location: GeographicRegion
    /// Optional precise position typed into the configuration, signed as `geolocation` with
    /// `source: configured` (with `location.source: configured`).
    public var geolocation: Geolocation?
    /// Where the signed position comes from (`location.source`, `location.gpsd`).
    public var locationSettings: LocationSettings = LocationSettings()
    /// `metrics.service` of every envelope.
    public var service: ServiceInfo
    /// Seconds between two samples.
    public var sampleInterval: Double
    /// Samples per envelope (one TPM signature per envelope).
    public var samplesPerEnvelope: Int
    /// A JSON object file read at every sample; its members become an "application" sample.
    public var applicationMetricsFile: String?
    /// The largest envelope the agent makes; batches are cut to fit. Keep it at or below the gateway's
    /// and collectors' `max_envelope_bytes`, which refuse larger ones as `payload_too_large`.
    public var maximumEnvelopeBytes: Int
    /// The file system whose usage the disk metrics report.
    public var diskPath: String
    public var spool: SpoolSettings
    /// Seconds to wait for a nonce (or the rejection of the nonce request).
    public var nonceTimeout: Double
    /// Seconds to wait for a receipt (or rejection) after publishing an envelope.
    public var receiptTimeout: Double
    /// Collectors (their ids) that must each confirm storing an envelope before it leaves the
    /// spool; empty: the first receipt from any collector is enough.
    public var receiptsFrom: [String]
    /// Envelopes published and awaiting their receipts at once (nonces are fetched ahead for as many):
    /// with several in flight a backlog drains at the TPM's rate instead of one round trip per envelope.
    public var maximumInFlight: Int
    /// trace, debug, info, notice, warning, error, critical.
    public var logLevel: String
    /// `enroll:` and `tpm.attestation_key_handle` (see ``EnrollmentSettings``).
    public var enrollment: EnrollmentSettings = EnrollmentSettings()
    /// `metrics: {listen: HOST:PORT}`: serve `/metrics`, `/healthz` and `/readyz` there; nil: no endpoint.
    public var metricsEndpoint: MetricsEndpointSettings?
    /// `otlp_receiver: {listen: HOST:PORT}`: take applications' OTLP/HTTP metrics there and sign them with the
    /// agent's own; nil: none.
    public var otlpReceiver: OTLPReceiverSettings?

    /// The `tpm:` section.
    public struct TPMSettings: Sendable, Hashable, Decodable {
        /// TCTI of the TPM, e.g. `swtpm:host=127.0.0.1,port=2321` or `device:/dev/tpmrm0`.
        public var tcti: String
        /// Persistent handle of the signing key; nil: the default, or the legacy handle where an older
        /// install's key is (``TPMDevice/signingKeyHandleWhenUnconfigured()``).
        public var handle: PersistentHandle?

        enum CodingKeys: String, CodingKey { case tcti, handle }

        public init(tcti: String = "device:/dev/tpmrm0", handle: PersistentHandle? = nil) {
            self.tcti = tcti
            self.handle = handle
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            // Empty means "not configured": loading fills in the environment's TCTI or the default.
            tcti = try container.decodeIfPresent(String.self, forKey: .tcti) ?? ""
            // YAML reads 0x81020010 as a number and "0x81020010" as a string: take both.
            if let number = try? container.decodeIfPresent(UInt32.self, forKey: .handle) {
                guard let handle = try? PersistentHandle(number) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .handle, in: container,
                        debugDescription: "\(number) is outside the persistent handle range 0x81000000–0x817FFFFF")
                }
                self.handle = handle
            } else if let text = try container.decodeIfPresent(String.self, forKey: .handle) {
                guard let handle = PersistentHandle(text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .handle, in: container,
                        debugDescription: "\"\(text)\" is not a persistent handle such as 0x81020010")
                }
                self.handle = handle
            } else {
                handle = nil
            }
        }
    }

    /// The `spool:` section.
    public struct SpoolSettings: Sendable, Hashable, Decodable {
        public var directory: String
        public var maximumBytes: Int
        /// Seconds after which a spooled batch is dropped.
        public var maximumAge: Double
        public var whenFull: EnvelopeSpool.OverflowPolicy

        enum CodingKeys: String, CodingKey {
            case directory
            case maximumBytes = "max_bytes"
            case maximumAge = "max_age_s"
            case whenFull = "when_full"
        }

        public init(
            directory: String = "spool", maximumBytes: Int = 64 * 1024 * 1024, maximumAge: Double = 604_800,
            whenFull: EnvelopeSpool.OverflowPolicy = .dropOldest
        ) {
            self.directory = directory
            self.maximumBytes = maximumBytes
            self.maximumAge = maximumAge
            self.whenFull = whenFull
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            directory = try container.decode(String.self, forKey: .directory)
            maximumBytes = try container.decodeIfPresent(Int.self, forKey: .maximumBytes) ?? 64 * 1024 * 1024
            maximumAge = try container.decodeIfPresent(Double.self, forKey: .maximumAge) ?? 604_800
            whenFull = try container.decodeIfPresent(EnvelopeSpool.OverflowPolicy.self, forKey: .whenFull) ?? .dropOldest
        }

        /// The spool's bounds.
        public var limits: EnvelopeSpool.Limits {
            EnvelopeSpool.Limits(
                maximumBytes: maximumBytes, maximumAge: .milliseconds(Int64(maximumAge * 1000)), whenFull: whenFull)
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, broker, tpm, location, geolocation, service
        case sampleInterval = "sample_interval_s"
        case samplesPerEnvelope = "samples_per_envelope"
        case applicationMetricsFile = "application_metrics_file"
        case maximumEnvelopeBytes = "max_envelope_bytes"
        case diskPath = "disk_path"
        case spool
        case nonceTimeout = "nonce_timeout_s"
        case receiptTimeout = "receipt_timeout_s"
        case receiptsFrom = "receipts_from"
        case maximumInFlight = "max_in_flight"
        case logLevel = "log_level"
        case enroll
        case metricsEndpoint = "metrics"
        case otlpReceiver = "otlp_receiver"
    }

    /// The `location:` object: the declared place (`place`, or `region`/`state`/`city`) and where the signed
    /// position comes from (`source`, `gpsd`).
    private struct LocationSection: Decodable {
        var place: String?
        var region: String?
        var state: String?
        var city: String?
        var source: LocationSettings.Source?
        var gpsd: String?
    }

    private static func region(
        path: String, in container: KeyedDecodingContainer<CodingKeys>
    ) throws -> GeographicRegion {
        guard let region = GeographicRegion(path: path) else {
            throw DecodingError.dataCorruptedError(
                forKey: .location, in: container,
                debugDescription: "\"\(path)\" is not of the form Country/State/City (state and city optional)")
        }
        return region
    }

    /// The configured position as signed: `source: configured`, whatever legacy fields it has.
    public var signedGeolocation: Geolocation? {
        guard var geolocation else { return nil }
        geolocation.source = .configured
        return geolocation
    }

    /// The `service:` section, every member optional.
    private struct ServiceSection: Decodable {
        var name: String?
        var version: String?
        var instanceID: String?

        enum CodingKeys: String, CodingKey {
            case name, version
            case instanceID = "instance_id"
        }
    }

    public static let defaultServiceName = "edgeproof-agent"
    public static let defaultServiceVersion = "1.0.0"

    public init(
        name: String = "agent-001",
        broker: BrokerSettings = BrokerSettings(caFile: "ca.crt", certificateFile: "agent.crt", keyFile: "agent.key"),
        tpm: TPMSettings = TPMSettings(),
        location: GeographicRegion = GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
        geolocation: Geolocation? = nil,
        service: ServiceInfo? = nil,
        sampleInterval: Double = 10,
        samplesPerEnvelope: Int = 1,
        applicationMetricsFile: String? = nil,
        maximumEnvelopeBytes: Int = SignedEnvelope.defaultMaximumSize,
        diskPath: String = "/",
        spool: SpoolSettings = SpoolSettings(),
        nonceTimeout: Double = 10,
        receiptTimeout: Double = 30,
        receiptsFrom: [String] = [],
        maximumInFlight: Int = AgentConfiguration.defaultMaximumInFlight,
        logLevel: String = "info"
    ) {
        self.name = name
        self.broker = broker
        self.tpm = tpm
        self.location = location
        self.geolocation = geolocation
        self.service = service
            ?? ServiceInfo(name: Self.defaultServiceName, version: Self.defaultServiceVersion, instanceID: name)
        self.sampleInterval = sampleInterval
        self.samplesPerEnvelope = samplesPerEnvelope
        self.applicationMetricsFile = applicationMetricsFile
        self.maximumEnvelopeBytes = maximumEnvelopeBytes
        self.diskPath = diskPath
        self.spool = spool
        self.nonceTimeout = nonceTimeout
        self.receiptTimeout = receiptTimeout
        self.receiptsFrom = receiptsFrom
        self.maximumInFlight = maximumInFlight
        self.logLevel = logLevel
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        broker = try container.decode(BrokerSettings.self, forKey: .broker)
        tpm = try container.decodeIfPresent(TPMSettings.self, forKey: .tpm) ?? TPMSettings(tcti: "")
        // Either {region, state, city} or the prototype's "Country/State/City" string. Missing is
        // allowed here: GEOGRAPHIC_REGION may supply it; loading checks the result.
        if let path = try? container.decodeIfPresent(String.self, forKey: .location) {
            location = try Self.region(path: path, in: container)
        } else if let section = try container.decodeIfPresent(LocationSection.self, forKey: .location) {
            if let place = section.place {
                guard section.region == nil, section.state == nil, section.city == nil else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .location, in: container,
                        debugDescription: "location has either place or region/state/city, not both")
                }
                location = try Self.region(path: place, in: container)
            } else {
                location = GeographicRegion(region: section.region ?? "", state: section.state, city: section.city)
            }
            let source = section.source ?? (section.gpsd == nil ? .configured : .gpsd)
            if let address = section.gpsd {
                guard let settings = LocationSettings(gpsdAddress: address, source: source) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .location, in: container,
                        debugDescription: "location.gpsd \"\(address)\" is not host:port (port 1-65535)")
                }
                locationSettings = settings
            } else {
                locationSettings = LocationSettings(source: source)
            }
        } else {
            location = GeographicRegion(region: "")
        }
        geolocation = try container.decodeIfPresent(Geolocation.self, forKey: .geolocation)
        let section = try container.decodeIfPresent(ServiceSection.self, forKey: .service)
        service = ServiceInfo(
            name: section?.name ?? Self.defaultServiceName, version: section?.version ?? Self.defaultServiceVersion,
            instanceID: section?.instanceID ?? name)
        sampleInterval = try container.decodeIfPresent(Double.self, forKey: .sampleInterval) ?? 10
        samplesPerEnvelope = try container.decodeIfPresent(Int.self, forKey: .samplesPerEnvelope) ?? 1
        applicationMetricsFile = try container.decodeIfPresent(String.self, forKey: .applicationMetricsFile)
        maximumEnvelopeBytes = try container.decodeIfPresent(Int.self, forKey: .maximumEnvelopeBytes)
            ?? SignedEnvelope.defaultMaximumSize
        diskPath = try container.decodeIfPresent(String.self, forKey: .diskPath) ?? "/"
        spool = try container.decode(SpoolSettings.self, forKey: .spool)
        nonceTimeout = try container.decodeIfPresent(Double.self, forKey: .nonceTimeout) ?? 10
        receiptTimeout = try container.decodeIfPresent(Double.self, forKey: .receiptTimeout) ?? 30
        receiptsFrom = try container.decodeIfPresent([String].self, forKey: .receiptsFrom) ?? []
        maximumInFlight =
            try container.decodeIfPresent(Int.self, forKey: .maximumInFlight) ?? Self.defaultMaximumInFlight
        logLevel = try container.decodeIfPresent(String.self, forKey: .logLevel) ?? "info"
        enrollment = try EnrollmentSettings(
            mode: container.decodeIfPresent(EnrollmentSettings.Mode.self, forKey: .enroll),
            tpm: try? container.superDecoder(forKey: .tpm))
        metricsEndpoint = try container.decodeIfPresent(MetricsEndpointSettings.self, forKey: .metricsEndpoint)
        otlpReceiver = try container.decodeIfPresent(OTLPReceiverSettings.self, forKey: .otlpReceiver)
    }
}
