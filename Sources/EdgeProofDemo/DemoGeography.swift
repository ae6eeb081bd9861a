import EdgeProofCore
import EdgeProofLocalStack
import Foundation

/// Where the demo's GNSS agents are: a fence around Santa Clara (an approximation of the city, with one
/// site cut out as a hole), a position well inside it, one in downtown San Jose outside it, and NMEA tracks
/// gpsfake replays for each.
public enum DemoGeography {
    /// The fence as GeoJSON (RFC 7946: [longitude, latitude]; the outer ring counterclockwise, the hole clockwise).
    public static let santaClaraFence = """
        {
          "type": "Polygon",
          "coordinates": [
            [[-122.0050, 37.3230], [-121.9700, 37.3230], [-121.9300, 37.3350], [-121.9250, 37.3650],
             [-121.9350, 37.3900], [-121.9500, 37.4200], [-121.9800, 37.4150], [-122.0000, 37.3950],
             [-122.0100, 37.3600], [-122.0050, 37.3230]],
            [[-121.9950, 37.3970], [-121.9950, 37.4030], [-121.9850, 37.4030], [-121.9850, 37.3970],
             [-121.9950, 37.3970]]
          ]
        }
        """

    /// Central Santa Clara: some 2 km from the fence's nearest edge.
    public static let insideSantaClara = (latitude: 37.3541, longitude: -121.9552)
    /// Downtown San Jose: east of the fence.
    public static let downtownSanJose = (latitude: 37.3382, longitude: -121.8863)

    /// The accuracy the demo's policy requires of GNSS positions (95 % radius, metres).
    public static let maximumAccuracyMeters = 50.0
    /// The oldest fix the demo's policy accepts at signing.
    public static let maximumFixAgeSeconds = 30.0

    /// `seconds` epochs from now at `position`, with GST errors of `sigma` metres (2 m: a good fix, about
    /// 5 m at 95 %; 200 m: a poor one, about 490 m).
    public static func track(
        at position: (latitude: Double, longitude: Double), seconds: Int, sigma: Double = 2, from start: Date = Date()
    ) -> [NMEALog.Fix] {
        NMEALog.track(from: start, count: seconds) { _, time in
            // A receiver reporting large errors has a poor geometry too: HDOP grows with them.
            NMEALog.Fix(
                time: time, latitude: position.latitude, longitude: position.longitude, hdop: max(0.9, sigma / 25),
                sigmaLatitude: sigma, sigmaLongitude: sigma)
        }
    }

    /// The epochs gpsfake replays for `track`, one a second from now: long enough for the whole demo.
    static func fixes(for track: DemoScenario.GNSSTrack, seconds: Int = 1200) -> [NMEALog.Fix] {
        switch track {
        case .insideSantaClara: Self.track(at: insideSantaClara, seconds: seconds)
        case .downtownSanJose: Self.track(at: downtownSanJose, seconds: seconds)
        case .poorAccuracy: Self.track(at: insideSantaClara, seconds: seconds, sigma: 200)
        }
    }
}
