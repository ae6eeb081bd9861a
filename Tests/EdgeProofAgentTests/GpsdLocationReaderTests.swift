import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofTesting
import Foundation
import Logging
import Testing

/// The agent's gpsd client against Debian's gpsd, fed by gpsfake with the project's NMEA logs.
@Suite("the agent reads its position from a real gpsd")
struct GpsdLocationReaderTests {
    @Test("a fix from gpsd is read with the receiver's GST accuracy, its fix time and the driver")
    func readsFixFromGpsd() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-gpsd")
        defer { directory.remove() }
        let start = Date()
        let fixes = NMEALog.track(from: start, count: 60) { _, time in
            NMEALog.Fix(time: time, latitude: 37.3541, longitude: -121.9552, sigmaLatitude: 3, sigmaLongitude: 4)
        }
        let gpsfake = try GPSFake.start(replaying: fixes, name: "santa-clara", in: directory.url)
        defer { gpsfake.stop() }
        let reader = GpsdLocationReader(host: "127.0.0.1", port: Int(gpsfake.port), logger: Logger(label: "test"))
        reader.start()
        defer { reader.stop() }
        let fixed = try await Poll.until(timeout: .seconds(90)) { reader.geolocation.accuracyMeters == 9.8 }
        #expect(fixed, "last geolocation: \(reader.geolocation)")
        let geolocation = reader.geolocation
        #expect(abs((geolocation.latitude ?? 0) - 37.3541) < 1e-6)
        #expect(abs((geolocation.longitude ?? 0) + 121.9552) < 1e-6)
        #expect(geolocation.source == .gnss)
        #expect(geolocation.fixMode == .threeDimensional)
        #expect(geolocation.sensor?.driver == "NMEA0183")
        let fixTime = try #require(geolocation.fixTime.flatMap(Timestamp.date))
        #expect(fixTime >= start.addingTimeInterval(-1) && fixTime <= Date().addingTimeInterval(1))
    }

    // The waits are generous: gpsfake and gpsd start slowly on a loaded machine (the whole suite runs at
    // once); each wait ends as soon as its event happened.
    @Test("gpsd gone: the last fix is kept; gpsd back on its port: the reader reconnects and follows it")
    func keepsLastFixAndReconnects() async throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-gpsd")
        defer { directory.remove() }
        let first = try GPSFake.start(
            replaying: NMEALog.track(from: Date(), count: 60) { _, time in
                NMEALog.Fix(time: time, latitude: 37.3541, longitude: -121.9552)
            }, name: "first", in: directory.url)
        let reader = GpsdLocationReader(host: "127.0.0.1", port: Int(first.port), logger: Logger(label: "test"))
        reader.start()
        defer { reader.stop() }
        let fixed = try await Poll.until(timeout: .seconds(90)) { reader.geolocation.position != nil }
        #expect(fixed)
        first.stop()
        let disconnected = try await Poll.until(timeout: .seconds(30)) { !reader.connection.connected }
        #expect(disconnected)
        #expect(abs((reader.geolocation.latitude ?? 0) - 37.3541) < 1e-6, "the last fix stays")

        let second = try GPSFake.start(
            replaying: NMEALog.track(from: Date(), count: 60) { _, time in
                NMEALog.Fix(time: time, latitude: 37.3382, longitude: -121.8863)
            }, name: "second", in: directory.url, port: first.port)
        defer { second.stop() }
        let moved = try await Poll.until(timeout: .seconds(90)) {
            abs((reader.geolocation.longitude ?? 0) + 121.8863) < 1e-6
        }
        #expect(moved, "last geolocation: \(reader.geolocation)")
        #expect(reader.connection.reconnects >= 1)
    }
}
