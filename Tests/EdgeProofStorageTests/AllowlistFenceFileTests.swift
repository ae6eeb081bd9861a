import Crypto
import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("fences in allowlist files")
struct AllowlistFenceFileTests {
    static let square = #"{"type":"Polygon","coordinates":[[[-122.01,37.30],[-121.90,37.30],[-121.90,37.41],[-122.01,37.41],[-122.01,37.30]]]}"#

    private func allowlist(places: [AllowedPlace], agents: Int = 3) throws -> Allowlist {
        var allowlist = Allowlist()
        for index in 0..<agents {
            let key = try AgentPublicKey(pemRepresentation: P256.Signing.PrivateKey().publicKey.pemRepresentation)
            var entry = AllowlistEntry(
                name: "agent-\(index)", key: key, createdAt: "2026-11-21T10:00:00.000Z", allowedPlaces: places)
            entry.locationRequirements = LocationRequirement(minimumSource: .gnss, maximumAccuracyMeters: 25)
            try allowlist.add(entry)
        }
        return allowlist
    }

    @Test("fence_file is read relative to the allowlist, once for every place naming it, and saved back as the path", arguments: ["allowlist.json", "allowlist.yaml"])
    func fenceFileLoadedOnceAndSavedAsPath(fileName: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(at: directory.appending("fences"), withIntermediateDirectories: true)
        try Data(Self.square.utf8).write(to: directory.appending("fences/santa-clara.geojson"))
        let place = AllowedPlace(region: "US", state: "California", city: "Santa Clara", fenceFile: "fences/santa-clara.geojson")
        let file = AllowlistFile(url: directory.appending(fileName))
        try file.save(try allowlist(places: [place]))

        let loaded = try file.load()
        let fences = loaded.entries.compactMap { $0.allowedPlaces.first?.fence }
        #expect(fences.count == 3)
        #expect(fences.allSatisfy { $0 === fences[0] }, "one Geofence for the one file")
        #expect(fences[0].test(latitude: 37.3541, longitude: -121.9552, radiusMeters: 10) == .inside)
        #expect(loaded.entries[0].locationRequirements == LocationRequirement(minimumSource: .gnss, maximumAccuracyMeters: 25))
        // Saved back: the path, not the geometry.
        try file.save(loaded)
        let text = try String(contentsOf: file.url, encoding: .utf8)
        #expect(text.contains("fence_file"))
        #expect(!text.contains("coordinates"))
    }

    @Test("an inline fence is saved back as given and decides the same", arguments: ["allowlist.json", "allowlist.yaml"])
    func inlineFenceRoundTrips(fileName: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fence = try Geofence(parsing: Data(Self.square.utf8))
        let file = AllowlistFile(url: directory.appending(fileName))
        try file.save(try allowlist(places: [AllowedPlace(region: "US", state: "California", fence: fence)], agents: 1))
        let loaded = try file.load()
        let reloaded = try #require(loaded.entries[0].allowedPlaces[0].fence)
        #expect(reloaded == fence)
        #expect(reloaded.test(latitude: 37.3541, longitude: -121.9552, radiusMeters: 10) == .inside)
        #expect(reloaded.test(latitude: 37.3382, longitude: -121.8863, radiusMeters: 10) == .outside)
    }

    @Test("a missing or malformed fence file, or a bad inline fence, fails the load with a clear error")
    func badFencesFailTheLoad() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending("allowlist.json"))
        try file.save(try allowlist(places: [AllowedPlace(region: "US", fenceFile: "missing.geojson")], agents: 1))
        #expect {
            try file.load()
        } throws: { error in
            "\(error)".contains("missing.geojson") && "\(error)".contains("cannot read")
        }
        try Data(#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]],}"#.utf8).write(to: directory.appending("missing.geojson"))
        #expect {
            try file.load()
        } throws: { error in
            "\(error)".contains("trailing comma") || "\(error)".contains("strict JSON")
        }
        let inline = """
            {"version":1,"agents":[],"policy":{"allowed_places":[{"region":"US","fence":{"type":"Point","coordinates":[0,0]}}]}}
            """
        try Data(inline.utf8).write(to: file.url)
        #expect {
            try file.load()
        } throws: { error in
            "\(error)".contains("Polygon or MultiPolygon")
        }
    }

    @Test("location requirements with a negative limit are refused when the allowlist loads")
    func badRequirementsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let text = #"{"version":1,"agents":[],"policy":{"location_requirements":{"maximum_accuracy_m":-5}}}"#
        let url = directory.appending("allowlist.json")
        try Data(text.utf8).write(to: url)
        #expect {
            try AllowlistFile(url: url).load()
        } throws: { error in
            "\(error)".contains("maximum_accuracy_m")
        }
    }
}
