import EdgeProofAgent
import EdgeProofCore
import EdgeProofService
import EdgeProofTesting
import Foundation
import Testing

@Suite("the agent's location: the declared place and where the signed position comes from")
struct AgentLocationConfigurationTests {
    func load(location: String, extra: String = "") throws -> AgentConfiguration {
        let directory = try TemporaryDirectory(prefix: "agent-location")
        defer { directory.remove() }
        let file = directory.appending("agent.yaml")
        let yaml = """
            name: agent-001
            broker: {ca_file: ca.crt, cert_file: agent-001.crt, key_file: agent-001.key}
            \(location)
            spool: {directory: /tmp/spool}
            \(extra)
            """
        try Data(yaml.utf8).write(to: file)
        return try AgentConfiguration.load(file: file.path, environment: [:])
    }

    @Test("the object form with source gpsd: the declared place, gpsd's address, its default port")
    func gpsdSource() throws {
        let configuration = try load(location: "location: {place: US/California/Santa Clara, source: gpsd, gpsd: \"10.0.0.7:2948\"}")
        #expect(configuration.location == GeographicRegion(region: "US", state: "California", city: "Santa Clara"))
        #expect(configuration.locationSettings == LocationSettings(source: .gpsd, gpsdHost: "10.0.0.7", gpsdPort: 2948))
        let defaults = try load(location: "location: {region: US, state: Texas, source: gpsd}")
        #expect(defaults.locationSettings == LocationSettings(source: .gpsd, gpsdHost: "127.0.0.1", gpsdPort: 2947))
        #expect(defaults.location == GeographicRegion(region: "US", state: "Texas"))
    }

    @Test("the string form and a typed geolocation: source configured, signed as such")
    func configuredSource() throws {
        let configuration = try load(
            location: "location: US/California/Santa Clara",
            extra: "geolocation: {latitude: 37.35, longitude: -121.95, accuracy_m: 15, quality: GNSS}")
        #expect(configuration.locationSettings.source == .configured)
        #expect(configuration.signedGeolocation?.source == .configured)
        #expect(configuration.signedGeolocation?.quality == "GNSS")
    }

    @Test("what cannot be meant is refused, naming the key", arguments: [
        ("location: {place: US/California/Santa Clara, source: gpsd, gpsd: \"localhost:0\"}", "", "location"),
        ("location: {place: US/California/Santa Clara, source: satellite}", "", "location"),
        ("location: {place: US/California, region: US}", "", "location"),
        ("location: US/California/Santa Clara", "geolocation: {latitude: 37.35, longitude: -121.95, source: gnss}", "geolocation"),
        ("location: {place: US/California/Santa Clara, source: gpsd}", "geolocation: {latitude: 37.35, longitude: -121.95}", "geolocation"),
    ])
    func refusals(location: String, extra: String, key: String) {
        #expect {
            _ = try load(location: location, extra: extra)
        } throws: { error in
            "\(error)".contains(key)
        }
    }
}
