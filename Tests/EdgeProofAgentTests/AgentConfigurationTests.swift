import EdgeProofAgent
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTesting
import EdgeProofTPM
import Foundation
import Testing

@Suite struct AgentConfigurationTests {
    func write(_ yaml: String) throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory(prefix: "agent-config")
        let file = directory.appending("agent.yaml")
        try Data(yaml.utf8).write(to: file)
        return (directory, file.path)
    }

    let minimal = """
        name: agent-001
        broker: {ca_file: ca.crt, cert_file: agent-001.crt, key_file: agent-001.key}
        location: {region: US, state: California, city: Santa Clara}
        spool: {directory: /tmp/spool}
        """

    @Test func loadsYAMLWithDefaults() throws {
        let (directory, file) = try write(minimal)
        defer { directory.remove() }
        let configuration = try AgentConfiguration.load(file: file, environment: [:])
        #expect(configuration.name == "agent-001")
        #expect(configuration.location == GeographicRegion(region: "US", state: "California", city: "Santa Clara"))
        #expect(configuration.tpm.tcti == "device:/dev/tpmrm0")
        #expect(configuration.tpm.handle == nil, "not configured: the default, or an older install's legacy handle")
        #expect(configuration.service == ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: "agent-001"))
        #expect(configuration.sampleInterval == 10)
        #expect(configuration.samplesPerEnvelope == 1)
        #expect(configuration.spool.maximumBytes == 64 * 1024 * 1024)
        #expect(configuration.spool.maximumAge == 604_800)
        #expect(configuration.spool.whenFull == .dropOldest)
        #expect(configuration.nonceTimeout == 10)
        #expect(configuration.receiptTimeout == 30)
        #expect(configuration.maximumInFlight == 256)
        #expect(configuration.broker.port == 8883)
        #expect(configuration.geolocation == nil)
    }

    @Test("broker addresses: a cluster's nodes in order; duplicates, an empty list, junk, or host/port beside them refused")
    func brokerAddressesListTheNodesOfOneBroker() throws {
        let agent = "name: agent-001\nlocation: US/California/Santa Clara\nspool: {directory: /tmp/spool}\n"
        let files = "ca_file: ca.crt, cert_file: agent-001.crt, key_file: agent-001.key"
        let (directory, file) = try write(agent + "broker: {addresses: [\"127.0.0.1:18883\", \"[::1]:18884\"], \(files)}")
        defer { directory.remove() }
        let configuration = try AgentConfiguration.load(file: file, environment: [:])
        #expect(configuration.broker.clientConfiguration(clientID: "agent-001").addresses.map(\.description) == [
            "127.0.0.1:18883", "[::1]:18884",
        ])
        for bad in [
            "[\"127.0.0.1:1\", \"127.0.0.1:1\"], \(files)", "[], \(files)", "[\"nope:\"], \(files)",
            "[\"127.0.0.1:1\"], host: 127.0.0.1, \(files)",
        ] {
            let (badDirectory, badFile) = try write(agent + "broker: {addresses: \(bad)}")
            defer { badDirectory.remove() }
            #expect(throws: (any Error).self, "\(bad) was accepted") {
                try AgentConfiguration.load(file: badFile, environment: [:])
            }
        }
    }

    @Test func plainScalarsKeepTheirSpellingUntilTheTypeAsksForANumberOrABoolean() throws {
        // Unquoted hex stays the handle as written (implicit YAML typing would make it 2164326417), a plain
        // "yes" is a boolean where one is wanted, and a timestamp-like name stays a string.
        let (directory, file) = try write(
            minimal + "\ntpm: {handle: 0x81010011}\nservice: {version: 2026-12-02}\nmax_in_flight: 0x10\n")
        defer { directory.remove() }
        let configuration = try AgentConfiguration.load(file: file, environment: ["LOG_LEVEL": "warn"])
        #expect(configuration.tpm.handle?.description == "0x81010011")
        #expect(configuration.service.version == "2026-12-02")
        #expect(configuration.maximumInFlight == 16)
        #expect(configuration.logLevel == "warn")
    }

    @Test func acceptsThePrototypeLocationString() throws {
        let (directory, file) = try write("""
            name: agent-002
            broker: {ca_file: ca.crt, cert_file: a.crt, key_file: a.key}
            location: US/California/Santa Clara
            tpm: {tcti: "swtpm:host=127.0.0.1,port=2321", handle: 0x81010011}
            geolocation: {latitude: 37.35, longitude: -121.95, accuracy_m: 15, quality: GNSS, type: precise}
            spool: {directory: /tmp/spool, max_bytes: 1000, max_age_s: 60, when_full: drop_newest}
            samples_per_envelope: 5
            """)
        defer { directory.remove() }
        let configuration = try AgentConfiguration.load(file: file, environment: [:])
        #expect(configuration.location == GeographicRegion(region: "US", state: "California", city: "Santa Clara"))
        #expect(configuration.tpm.tcti == "swtpm:host=127.0.0.1,port=2321")
        #expect(configuration.tpm.handle?.description == "0x81010011")
        #expect(configuration.geolocation?.quality == "GNSS")
        #expect(configuration.spool.whenFull == .dropNewest)
        #expect(configuration.samplesPerEnvelope == 5)
    }

    @Test func environmentOverridesTheFile() throws {
        let (directory, file) = try write(minimal.replacingOccurrences(
            of: "location: {region: US, state: California, city: Santa Clara}", with: "location: US/California/Santa Clara"))
        defer { directory.remove() }
        let configuration = try AgentConfiguration.load(file: file, environment: [
            "GEOGRAPHIC_REGION": "EU", "GEOGRAPHIC_STATE": "Germany", "GEOGRAPHIC_CITY": "Berlin",
            "EDGEPROOF_AGENT_NAME": "agent-eu", "EDGEPROOF_TCTI": "swtpm:host=127.0.0.1,port=2400",
            "EDGEPROOF_BROKER_PORT": "18883", "LOG_LEVEL": "debug",
        ])
        #expect(configuration.location == GeographicRegion(region: "EU", state: "Germany", city: "Berlin"))
        #expect(configuration.name == "agent-eu")
        #expect(configuration.service.instanceID == "agent-eu")
        #expect(configuration.tpm.tcti == "swtpm:host=127.0.0.1,port=2400")
        #expect(configuration.broker.port == 18883)
        #expect(configuration.logLevel == "debug")
    }

    @Test func regionOnlyOverrideKeepsStateAndCityOfTheString() throws {
        let (directory, file) = try write(minimal.replacingOccurrences(
            of: "location: {region: US, state: California, city: Santa Clara}", with: "location: US/California/Santa Clara"))
        defer { directory.remove() }
        let configuration = try AgentConfiguration.load(file: file, environment: ["GEOGRAPHIC_REGION": "CA"])
        #expect(configuration.location == GeographicRegion(region: "CA", state: "California", city: "Santa Clara"))
    }

    @Test func takesTheToolsTCTIWhenNoneIsConfigured() throws {
        let (directory, file) = try write(minimal)
        defer { directory.remove() }
        let configuration = try AgentConfiguration.load(
            file: file, environment: ["TPM2TOOLS_TCTI": "swtpm:host=127.0.0.1,port=2500"])
        #expect(configuration.tpm.tcti == "swtpm:host=127.0.0.1,port=2500")
    }

    @Test(arguments: [
        ("location: US/California/Santa Clara/Extra", "Country/State/City"),
        ("spool: {}", "directory"),
        ("name: \"-bad\"", "valid agent name"),
        // Values that would trap when they become a Duration, or make a batch never end.
        ("sample_interval_s: .inf", "sample_interval_s: must be more than 0 and at most 86400"),
        ("sample_interval_s: .nan", "sample_interval_s: must be more than 0"),
        ("sample_interval_s: 0", "sample_interval_s: must be more than 0"),
        ("nonce_timeout_s: .inf", "nonce_timeout_s: must be more than 0 and at most 3600"),
        ("receipt_timeout_s: -1", "receipt_timeout_s: must be more than 0"),
        ("max_in_flight: 0", "max_in_flight: must be 1–1024"),
        ("samples_per_envelope: 0", "samples_per_envelope: must be 1–100000"),
        ("samples_per_envelope: 100000000", "samples_per_envelope: must be 1–100000"),
        ("max_envelope_bytes: 100", "max_envelope_bytes: must be 4096–67108864"),
        ("spool: {directory: /tmp/spool, max_age_s: .inf}", "max_age_s at most 100 years"),
        ("otlp_receiver: {listen: \"0.0.0.0:4318\"}", "not a loopback address"),
        ("otlp_receiver: {listen: \"localhost:4318\"}", "is not HOST:PORT with an IPv4 address"),
        ("otlp_receiver: {listen: \"127.0.0.1:4318\", max_request_bytes: 0}", "must be positive"),
    ])
    func rejectsBadConfigurationWithAClearMessage(line: String, expected: String) throws {
        let key = String(line.prefix { $0 != ":" })
        let yaml = minimal.split(separator: "\n").filter { !$0.hasPrefix(key + ":") }.joined(separator: "\n") + "\n" + line
        let (directory, file) = try write(yaml)
        defer { directory.remove() }
        let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.load(file: file, environment: [:]) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    @Test func requiresALocation() throws {
        let (directory, file) = try write(minimal.replacingOccurrences(
            of: "location: {region: US, state: California, city: Santa Clara}", with: ""))
        defer { directory.remove() }
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.load(file: file, environment: [:]) }
        let configuration = try AgentConfiguration.load(file: file, environment: ["GEOGRAPHIC_REGION": "US"])
        #expect(configuration.location == GeographicRegion(region: "US"))
    }
}
