import EdgeProofCore
import EdgeProofGateway
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Logging
import Testing

@Suite("Gateway configuration")
struct GatewayConfigurationTests {
    static let brokerSection = """
        broker:
          ca_file: /etc/edgeproof/ca.crt
          cert_file: /etc/edgeproof/gateway.crt
          key_file: /etc/edgeproof/gateway.key
        """

    func load(_ yaml: String, environment: [String: String] = [:]) throws -> GatewayConfiguration {
        let directory = try TemporaryDirectory(prefix: "edgeproof-gateway-config")
        defer { directory.remove() }
        let file = directory.appending("gateway.yaml")
        try Data(yaml.utf8).write(to: file)
        return try GatewayConfiguration.load(file: file.path, environment: environment)
    }

    @Test func defaultsArePassthroughWithContractLimits() throws {
        let configuration = try load(Self.brokerSection)
        #expect(configuration.id == "gateway")
        #expect(configuration.mode == .passthrough)
        #expect(configuration.allowlistFile == nil)
        #expect(configuration.maximumClockSkew == .seconds(300))
        #expect(configuration.maximumEnvelopeBytes == 262_144)
        #expect(configuration.logLevel == .info)
        #expect(configuration.broker.host == "127.0.0.1")
        #expect(configuration.broker.port == 8883)
        #expect(configuration.broker.topicPrefix == "edgeproof/v1")
    }

    @Test(arguments: ["enforce", "gateway-policy-enforcement", "gateway-allowlist", "ENFORCE"])
    func acceptsThePrototypesNamesForEnforce(_ name: String) throws {
        let configuration = try load(Self.brokerSection + "\nmode: \(name)\nallowlist_file: allowlist.yaml\n")
        #expect(configuration.mode == .enforce)
    }

    @Test("require_trust_level, per agent and max_attestation_age_s are read; an unknown level names the key")
    func readsTheTrustRequirement() throws {
        #expect(try load(Self.brokerSection).trustRequirement == TrustRequirement())
        let configuration = try load(
            Self.brokerSection + """

                require_trust_level: tpm-ek-cert
                require_trust_level_by_agent: {legacy-box: configured}
                max_attestation_age_s: 172800
                """)
        #expect(
            configuration.trustRequirement
                == TrustRequirement(
                    minimumLevel: .tpmEKCert, minimumLevelByAgent: ["legacy-box": .configured],
                    maximumAttestationAge: 172_800))
        #expect {
            try load(Self.brokerSection + "\nrequire_trust_level: tpm\n")
        } throws: { error in
            "\(error)".contains("require_trust_level") && "\(error)".contains("tpm-ek-pinned")
        }
    }

    @Test func environmentOverridesTheFile() throws {
        let configuration = try load(
            Self.brokerSection + "\nmode: passthrough\nlog_level: info\n",
            environment: [
                "GATEWAY_MODE": "gateway-policy-enforcement", "EDGEPROOF_ALLOWLIST": "/srv/allowlist.json",
                "EDGEPROOF_BROKER_HOST": "broker.example", "EDGEPROOF_BROKER_PORT": "18883", "LOG_LEVEL": "DEBUG",
            ])
        #expect(configuration.mode == .enforce)
        #expect(configuration.allowlistFile == "/srv/allowlist.json")
        #expect(configuration.broker.host == "broker.example")
        #expect(configuration.broker.port == 18883)
        #expect(configuration.logLevel == .debug)
    }

    @Test func enforceWithoutAllowlistIsRefused() throws {
        let error = #expect(throws: ConfigurationError.self) { try load(Self.brokerSection + "\nmode: enforce\n") }
        #expect(error?.key == "allowlist_file")
    }

    @Test func unknownModeIsRefused() throws {
        let error = #expect(throws: ConfigurationError.self) { try load(Self.brokerSection + "\nmode: paranoid\n") }
        #expect(error?.key == "mode")
        #expect(error?.description.contains("paranoid") == true)
    }

    @Test func missingBrokerSectionIsRefused() throws {
        let error = #expect(throws: ConfigurationError.self) { try load("mode: passthrough\n") }
        #expect(error?.key == "broker")
    }

    @Test func gatewayRefusesAnAllowlistThatDoesNotLoad() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-gateway-config")
        defer { directory.remove() }
        let allowlist = directory.appending("allowlist.json")
        try Data("not json".utf8).write(to: allowlist)
        let configuration = GatewayConfiguration(mode: .enforce, allowlistFile: allowlist.path)
        #expect(throws: StorageError.self) {
            try Gateway(configuration: configuration, transport: InMemoryTransport(), logger: Logger(label: "test"))
        }
    }

    @Test func sampleConfigurationLoads() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/gateway.yaml")
        let configuration = try GatewayConfiguration.load(file: sample.path, environment: [:])
        #expect(configuration.id == "gateway")
        #expect(configuration.mode == .passthrough)
        #expect(configuration.upstream == nil)
    }

    @Test func theSiteSampleIsABridgeWithItsQueuesAndPace() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/gateway-site.yaml")
        let configuration = try GatewayConfiguration.load(file: sample.path, environment: [:])
        #expect(configuration.upstream?.host == "central.example.net")
        #expect(configuration.broker.port == 8884)
        #expect(configuration.relay.directory == "/var/lib/edgeproof/bridge-site1")
        #expect(configuration.relay.releasePerSecond == 1000)
        #expect(configuration.relay.burst == 100)
        #expect(configuration.relay.whenFull == .dropOldest)
    }

    @Test func aBridgeWithoutAQueueDirectoryOrWithItsOwnBrokerUpstreamIsRefused() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-gateway-config")
        defer { directory.remove() }
        func load(_ yaml: String) throws -> GatewayConfiguration {
            let file = directory.appending("bridge.yaml")
            try Data(yaml.utf8).write(to: file)
            return try GatewayConfiguration.load(file: file.path, environment: [:])
        }
        let broker = "broker: {port: 8884, ca_file: a, cert_file: b, key_file: c}"
        func problem(_ yaml: String) -> String {
            do {
                _ = try load(yaml)
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        #expect(problem("\(broker)\nupstream: {port: 8883, ca_file: a, cert_file: b, key_file: c}").contains("relay.directory"))
        #expect(
            problem("\(broker)\nupstream: {port: 8884, ca_file: a, cert_file: b, key_file: c}\nrelay: {directory: /tmp/q}")
                .contains("upstream"))
        #expect(
            problem(
                "\(broker)\nupstream: {port: 8883, ca_file: a, cert_file: b, key_file: c}\nrelay: {directory: /tmp/q, when_full: drop_some}"
            ).contains("when_full"))
        #expect(problem("broker: {port: 8884, keepalive: 2, ca_file: a, cert_file: b, key_file: c}").contains("keepalive"))
        #expect(
            problem("\(broker)\nupstream: {port: 8883, ca_file: a, cert_file: b, key_file: c}\nrelay: {directory: /tmp/q, release_per_s: -1}")
                .contains("release_per_s"))
    }
}
