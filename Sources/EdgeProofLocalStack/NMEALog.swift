import Foundation

/// NMEA 0183 logs for gpsfake: per epoch a GGA (position, fix quality, satellites, HDOP, altitude), a GSA
/// (fix mode and DOPs), an RMC (date and time, so gpsd knows the full time) and a GST (the receiver's 1-sigma
/// latitude and longitude errors, which gpsd reports as GST), each with its checksum.
public enum NMEALog {
    /// One receiver epoch.
    public struct Fix: Sendable, Hashable {
        public var time: Date
        public var latitude: Double
        public var longitude: Double
        /// Metres above mean sea level; nil leaves GGA's altitude empty (a 2-D fix).
        public var altitude: Double?
        /// false: no fix (GGA quality 0, GSA mode 1, RMC status V); the position is still written.
        public var hasFix: Bool
        public var satellites: Int
        public var hdop: Double
        /// GST's standard deviations of the latitude and longitude errors, metres.
        public var sigmaLatitude: Double
        public var sigmaLongitude: Double

        public init(
            time: Date, latitude: Double, longitude: Double, altitude: Double? = 20, hasFix: Bool = true,
            satellites: Int = 9, hdop: Double = 0.9, sigmaLatitude: Double = 2, sigmaLongitude: Double = 2
        ) {
            self.time = time
            self.latitude = latitude
            self.longitude = longitude
            self.altitude = altitude
            self.hasFix = hasFix
            self.satellites = satellites
            self.hdop = hdop
            self.sigmaLatitude = sigmaLatitude
            self.sigmaLongitude = sigmaLongitude
        }
    }

    /// The sentences of `fixes`, CR LF after each, as a receiver writes them.
    public static func text(_ fixes: [Fix]) -> String {
        fixes.flatMap(sentences).map { $0 + "\r\n" }.joined()
    }

    /// `count` epochs one second apart from `start`, at the position `position(index)` returns.
    public static func track(
        from start: Date, count: Int, _ fix: (_ index: Int, _ time: Date) -> Fix
    ) -> [Fix] {
        (0..<count).map { index in fix(index, start.addingTimeInterval(Double(index))) }
    }

    /// GGA, GSA, RMC and GST of one epoch.
    public static func sentences(_ fix: Fix) -> [String] {
        let utc = clock(fix.time)
        let (latitude, north) = angle(fix.latitude, degreeDigits: 2, positive: "N", negative: "S")
        let (longitude, east) = angle(fix.longitude, degreeDigits: 3, positive: "E", negative: "W")
        let quality = fix.hasFix ? 1 : 0
        let altitude = fix.altitude.map { String(format: "%.1f,M", $0) } ?? ","
        let mode = !fix.hasFix ? 1 : fix.altitude == nil ? 2 : 3
        let used = fix.hasFix ? (1...min(fix.satellites, 12)).map { String(format: "%02d", $0) } : []
        let satelliteFields = (used + Array(repeating: "", count: 12 - used.count)).joined(separator: ",")
        let vdop = fix.hdop * 1.3
        let pdop = (fix.hdop * fix.hdop + vdop * vdop).squareRoot()
        return [
            "GPGGA,\(utc.time),\(latitude),\(north),\(longitude),\(east),\(quality),"
                + String(format: "%02d,%.1f,", fix.hasFix ? fix.satellites : 0, fix.hdop) + "\(altitude),-30.0,M,,",
            "GPGSA,A,\(mode),\(satelliteFields)," + String(format: "%.1f,%.1f,%.1f", pdop, fix.hdop, vdop),
            "GPRMC,\(utc.time),\(fix.hasFix ? "A" : "V"),\(latitude),\(north),\(longitude),\(east),0.0,0.0,\(utc.date),,",
            "GPGST,\(utc.time)," + String(
                format: "%.1f,%.1f,%.1f,0.0,%.1f,%.1f,%.1f", max(fix.sigmaLatitude, fix.sigmaLongitude),
                max(fix.sigmaLatitude, fix.sigmaLongitude), min(fix.sigmaLatitude, fix.sigmaLongitude),
                fix.sigmaLatitude, fix.sigmaLongitude, fix.sigmaLatitude * 1.5),
        ].map(checksummed)
    }

    /// `$body*HH`: HH the XOR of the body's bytes, in uppercase hex.
    public static func checksummed(_ body: String) -> String {
        let sum = body.utf8.reduce(UInt8(0), ^)
        return "$" + body + "*" + String(format: "%02X", sum)
    }

    /// `hhmmss.ss` and `ddmmyy` in UTC.
    private static func clock(_ date: Date) -> (time: String, date: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        let seconds = Double(parts.second ?? 0) + Double(parts.nanosecond ?? 0) / 1e9
        return (
            String(format: "%02d%02d%05.2f", parts.hour ?? 0, parts.minute ?? 0, seconds),
            String(format: "%02d%02d%02d", parts.day ?? 1, parts.month ?? 1, (parts.year ?? 2000) % 100)
        )
    }

    /// Degrees as NMEA's `dddmm.mmmmm` with the hemisphere letter.
    private static func angle(_ value: Double, degreeDigits: Int, positive: String, negative: String) -> (String, String) {
        let magnitude = abs(value)
        var degrees = Int(magnitude)
        var minutes = (magnitude - Double(degrees)) * 60
        if minutes >= 59.999_995 {
            degrees += 1
            minutes = 0
        }
        let text = String(format: "%0\(degreeDigits)d%08.5f", degrees, minutes)
        return (text, value < 0 ? negative : positive)
    }
}
