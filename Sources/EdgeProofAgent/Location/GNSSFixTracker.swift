import EdgeProofCore
import Foundation

/// Turns gpsd's reports into the `geolocation` the agent signs: the latest fix, its 95 % accuracy
/// circle, its fix time and the receiver. Pure: the gpsd connection feeds it, tests feed it captured lines.
///
/// What Debian's gpsd 3.22 sends, and what is made of it:
/// - `eph` is derived from HDOP even when the receiver sends GST: the receiver's GST wins, its 1-sigma
///   latitude/longitude errors turned into the 95 % radius — the GST of the same epoch (same time), or, until
///   that arrives, one received in the last ``recentNoise`` seconds (gpsd sends the first TPVs of a cycle
///   without time, and GST and TPV of one epoch in either order). An older GST is never used: after an
///   outage, the first fix's error is its own, often kilometres, not the last good one's.
/// - `epx`/`epy` (95 % per axis) are missing without satellite data: then `eph`, and with neither the
///   accuracy is unknown (nil, never 0).
/// - A fix reported as mode 3 without any altitude is a 2-D fix.
/// - A TPV without `time` (gpsd sends the first ones of a cycle before the date is known) is stamped with
///   the agent's clock at receipt.
/// - No fix (mode 0 or 1) keeps the last fix, with its own fix time: its age shows, the policy decides.
struct GNSSFixTracker: Sendable {
    /// The radius of the circle holding a circular normal error with 95 % probability, in standard
    /// deviations: sqrt(-2 ln 0.05).
    static let circular95PerSigma = 2.447_746_830_680_816
    /// A per-axis 95 % error is 1.959964 standard deviations.
    static let axis95PerSigma = 1.959_963_984_540_054

    struct Fix: Sendable, Equatable {
        var latitude: Double
        var longitude: Double
        var altitude: Double?
        var mode: FixMode
        var time: Date
        /// Whether `time` came from the receiver (false: the agent's clock at receipt).
        var timeFromReceiver: Bool
        var accuracyMeters: Double?
        var device: String?
        /// When the agent received it.
        var receivedAt: Date
    }

    private(set) var lastFix: Fix?
    private var devices: [String: GpsdDevice] = [:]
    private var lastNoise: (time: Date?, receivedAt: Date, noise: GpsdNoise)?
    /// How recent a GST of unknown or another epoch may be to stand for the current one: a little over one
    /// epoch of a 1 Hz receiver.
    static let recentNoise: TimeInterval = 1.5

    mutating func receive(_ report: GpsdReport, at now: Date) {
        switch report {
        case .position(let position):
            receive(position, at: now)
        case .noise(let noise):
            let time = noise.time.flatMap(Self.date)
            lastNoise = (time, now, noise)
            // GST may follow the TPV of its epoch: it then corrects that fix's accuracy.
            if var fix = lastFix, let radius = Self.radius(of: noise) {
                let sameEpoch = time.map { fix.timeFromReceiver && Self.sameEpoch(fix.time, $0) } ?? false
                if sameEpoch || now.timeIntervalSince(fix.receivedAt) <= Self.recentNoise {
                    fix.accuracyMeters = radius
                    lastFix = fix
                }
            }
        case .devices(let list):
            for device in list {
                let key = device.path ?? ""
                var merged = devices[key] ?? GpsdDevice()
                merged.path = device.path ?? merged.path
                merged.driver = device.driver ?? merged.driver
                merged.subtype = device.subtype ?? merged.subtype
                merged.subtype1 = device.subtype1 ?? merged.subtype1
                devices[key] = merged
            }
        case .other:
            break
        }
    }

    private mutating func receive(_ position: GpsdPosition, at now: Date) {
        guard position.mode >= 2, let latitude = position.lat, let longitude = position.lon,
            latitude.isFinite, longitude.isFinite, (-90...90).contains(latitude), (-180...180).contains(longitude)
        else { return }
        let altitude = position.altHAE ?? position.altMSL ?? position.alt
        let mode: FixMode = position.mode >= 3 && altitude != nil ? .threeDimensional : .twoDimensional
        let receiverTime = position.time.flatMap(Self.date)
        let time = receiverTime ?? now
        var accuracy: Double?
        if let (noiseTime, receivedAt, noise) = lastNoise {
            let sameEpoch = receiverTime.flatMap { tpv in noiseTime.map { Self.sameEpoch(tpv, $0) } } ?? false
            if sameEpoch || now.timeIntervalSince(receivedAt) <= Self.recentNoise {
                accuracy = Self.radius(of: noise)
            }
        }
        if accuracy == nil, let epx = position.epx, let epy = position.epy, epx.isFinite, epy.isFinite, epx >= 0, epy >= 0 {
            accuracy = max(epx, epy) / Self.axis95PerSigma * Self.circular95PerSigma
        }
        if accuracy == nil, let eph = position.eph, eph.isFinite, eph >= 0 {
            accuracy = eph
        }
        lastFix = Fix(
            latitude: latitude, longitude: longitude,
            altitude: mode == .threeDimensional ? (position.altHAE ?? altitude) : nil, mode: mode, time: time,
            timeFromReceiver: receiverTime != nil, accuracyMeters: accuracy.map(Self.rounded), device: position.device,
            receivedAt: now)
    }

    /// What the agent signs now: the last fix, or no fix at all.
    var geolocation: Geolocation {
        guard let fix = lastFix else {
            return Geolocation(latitude: nil, longitude: nil, source: .gnss, fixMode: FixMode.none, sensor: sensor(for: nil))
        }
        return Geolocation(
            latitude: fix.latitude, longitude: fix.longitude, altitude: fix.altitude, accuracyMeters: fix.accuracyMeters,
            source: .gnss, fixMode: fix.mode, fixTime: Timestamp.string(from: fix.time), sensor: sensor(for: fix.device))
    }

    /// The receiver that reported the fix, or the only one gpsd knows: gpsd's driver name, and its subtypes as
    /// model (`subtype1`) and firmware (`subtype`), made printable.
    private func sensor(for path: String?) -> LocationSensor? {
        let device = path.flatMap { devices[$0] } ?? (devices.count == 1 ? devices.values.first : nil)
        guard let driver = LocationSensor.field(device?.driver) else { return nil }
        return LocationSensor(
            driver: driver, model: LocationSensor.field(device?.subtype1), firmware: LocationSensor.field(device?.subtype))
    }

    /// The 95 % radius from GST's 1-sigma latitude and longitude errors (the larger, so the circle holds both).
    private static func radius(of noise: GpsdNoise) -> Double? {
        guard let lat = noise.lat, let lon = noise.lon, lat.isFinite, lon.isFinite, lat >= 0, lon >= 0 else { return nil }
        return rounded(max(lat, lon) * circular95PerSigma)
    }

    /// Centimetres are more than any receiver knows; fewer digits keep the envelope short. Rounded up (never
    /// claiming more accuracy than reported), past the binary noise of the multiplication.
    private static func rounded(_ metres: Double) -> Double { (metres * 100 - 1e-6).rounded(.up) / 100 }

    private static func sameEpoch(_ a: Date, _ b: Date) -> Bool { abs(a.timeIntervalSince(b)) < 0.001 }

    private static func date(_ text: String) -> Date? { Timestamp.date(from: text) }
}
