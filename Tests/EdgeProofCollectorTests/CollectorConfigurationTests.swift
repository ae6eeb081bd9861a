import EdgeProofCollector
import EdgeProofMQTT
import EdgeProofService
import Logging
import EdgeProofTesting
import Foundation
import Testing

@Suite("CollectorConfiguration")
struct CollectorConfigurationTests {
    private func write(_ yaml: String) throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory(prefix: "edgeproof-config")
        let path = directory.appending("collector.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return (directory, path)
    }

    private let minimal = """
        broker: {ca_file: ca.crt, cert_file: c.crt, key_file: c.key}
        allowlist_file: allowlist.yaml
        nonce_key_file: nonce.keys
        records: {directory: /data/records}
        """

    @Test func missingKeysTakeTheirDefaults() throws {
        let (directory, path) = try write(minimal)
        defer { directory.remove() }
        let configuration = try CollectorConfiguration.load(file: path, environment: [:])
        #expect(configuration.id == "collector-1")
        #expect(configuration.broker.port == 8883)
        #expect(configuration.nonceLifetime == .seconds(300))
        #expect(configuration.nonceSubscription == .shared)
        #expect(configuration.records.maximumFileBytes == 64 * 1024 * 1024)
        #expect(configuration.records.maximumFileAge == .seconds(3600))
        #expect(configuration.records.retainFiles == 0)
        #expect(configuration.records.fsync)
        #expect(configuration.resolvedEventsDirectory == "/data/records/events")
        #expect(configuration.maximumEnvelopeBytes == 262_144)
        #expect(configuration.logLevel == .info)
    }

    @Test func environmentOverridesTheFile() throws {
        let (directory, path) = try write(minimal + "\nid: collector-9\nnonce_subscription: all\n")
        defer { directory.remove() }
        let configuration = try CollectorConfiguration.load(
            file: path,
            environment: [
                "EDGEPROOF_COLLECTOR_ID": "collector-2", "EDGEPROOF_BROKER_HOST": "broker.example",
                "EDGEPROOF_BROKER_PORT": "9883", "EDGEPROOF_ALLOWLIST": "/etc/a.json", "LOG_LEVEL": "debug",
            ])
        #expect(configuration.id == "collector-2")
        #expect(configuration.broker.host == "broker.example")
        #expect(configuration.broker.port == 9883)
        #expect(configuration.allowlistFile == "/etc/a.json")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.nonceSubscription == .all)
    }

    @Test(arguments: [
        "allowlist_file: a\nnonce_key_file: k\nrecords: {directory: r}",  // no broker
        "broker: {ca_file: a, cert_file: b, key_file: c}\nnonce_key_file: k\nrecords: {directory: r}",  // no allowlist
        "broker: {ca_file: a, cert_file: b, key_file: c}\nallowlist_file: a\nnonce_key_file: k",  // no records
    ])
    func missingRequiredKeysFail(yaml: String) throws {
        let (directory, path) = try write(yaml)
        defer { directory.remove() }
        #expect(throws: (any Error).self) { try CollectorConfiguration.load(file: path, environment: [:]) }
    }

    @Test func badValuesFailWithTheKeyNamed() throws {
        let (directory, path) = try write(minimal + "\nnonce_lifetime_s: 0\n")
        defer { directory.remove() }
        #expect { try CollectorConfiguration.load(file: path, environment: [:]) } throws: { error in
            "\(error)".contains("nonce_lifetime_s")
        }
    }
}
