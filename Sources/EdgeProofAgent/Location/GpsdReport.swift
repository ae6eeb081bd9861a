import Foundation

/// One message of gpsd's JSON protocol, as far as the agent uses it. gpsd writes one JSON object per line
/// with a `class`; classes and members the agent does not use are ignored, since gpsd adds them over
/// releases.
enum GpsdReport: Sendable, Equatable {
    /// Time-position-velocity: the fix.
    case position(GpsdPosition)
    /// Pseudorange noise statistics: the receiver's own error estimate (1-sigma, metres).
    case noise(GpsdNoise)
    /// One receiver (a DEVICE message, or each entry of DEVICES).
    case devices([GpsdDevice])
    /// Anything else (VERSION, WATCH, SKY, …).
    case other

    /// Lines longer than this are not gpsd's (its longest, SKY with many satellites, stays far below).
    static let maximumLineBytes = 16 * 1024

    /// Reads one line; nil for a line that is not a JSON object with a known shape.
    init?(line: Data) {
        guard line.count <= Self.maximumLineBytes,
            let header = try? JSONDecoder().decode(ClassHeader.self, from: line)
        else { return nil }
        switch header.class {
        case "TPV":
            guard let position = try? JSONDecoder().decode(GpsdPosition.self, from: line) else { return nil }
            self = .position(position)
        case "GST":
            guard let noise = try? JSONDecoder().decode(GpsdNoise.self, from: line) else { return nil }
            self = .noise(noise)
        case "DEVICE":
            guard let device = try? JSONDecoder().decode(GpsdDevice.self, from: line) else { return nil }
            self = .devices([device])
        case "DEVICES":
            guard let list = try? JSONDecoder().decode(DeviceList.self, from: line) else { return nil }
            self = .devices(list.devices)
        default:
            self = .other
        }
    }

    private struct ClassHeader: Decodable {
        var `class`: String
    }

    private struct DeviceList: Decodable {
        var devices: [GpsdDevice]
    }
}

/// A TPV message. gpsd 3.22 omits what it does not know: `time` before the sentence that carries the date,
/// `epx`/`epy` without satellite data, altitudes in a 2-D fix.
struct GpsdPosition: Sendable, Equatable, Decodable {
    var device: String?
    /// 0 unknown, 1 no fix, 2 2-D, 3 3-D.
    var mode: Int
    var time: String?
    var lat: Double?
    var lon: Double?
    /// Altitude above the WGS 84 ellipsoid.
    var altHAE: Double?
    var altMSL: Double?
    var alt: Double?
    /// Horizontal error estimate, metres; in 3.22 derived from HDOP even when the receiver sends GST.
    var eph: Double?
    /// Longitude and latitude error estimates, metres, 95 % confidence.
    var epx: Double?
    var epy: Double?
}

/// A GST message: standard deviations in metres of the latitude and longitude errors.
struct GpsdNoise: Sendable, Equatable, Decodable {
    var device: String?
    var time: String?
    var lat: Double?
    var lon: Double?
}

/// A DEVICE entry: the receiver gpsd drives.
struct GpsdDevice: Sendable, Equatable, Decodable {
    var path: String?
    var driver: String?
    /// Driver-specific identification; for u-blox and SiRF the firmware version.
    var subtype: String?
    /// More of it; for u-blox the protocol version and module.
    var subtype1: String?
}
