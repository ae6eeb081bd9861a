import EdgeProofCore
import Foundation
import Testing

@testable import EdgeProofAgent

/// gpsd 3.22's reports, as Debian's gpsd sent them replaying the project's NMEA logs through gpsfake
/// (`gpspipe -w`), and what the agent signs of them.
@Suite("gpsd reports become the signed geolocation")
struct GNSSFixTrackerTests {
    static let device = #"{"class":"DEVICE","path":"/dev/pts/1","driver":"NMEA0183","activated":"2026-12-02T19:29:59.212Z","native":0,"bps":4800,"parity":"N","stopbits":1,"cycle":1.00}"#
    /// The first TPV of a cycle: no `time` (the date comes with RMC), `eph` from HDOP, no `epx`/`epy`.
    static let tpvWithoutTime = #"{"class":"TPV","device":"/dev/pts/1","mode":3,"lat":37.350000000,"lon":-121.950000000,"altHAE":-10.0000,"altMSL":20.0000,"alt":20.0000,"magvar":13.1,"geoidSep":-30.000,"eph":17.100}"#
    static let tpv = #"{"class":"TPV","device":"/dev/pts/1","mode":3,"time":"2026-12-02T12:00:01.000Z","ept":0.005,"lat":37.350000000,"lon":-121.950000000,"altHAE":-10.0000,"altMSL":20.0000,"alt":20.0000,"epv":27.600,"track":0.0000,"magtrack":13.1024,"magvar":13.1,"speed":0.000,"geoidSep":-30.000,"eph":17.100,"sep":28.500}"#
    static let gst = #"{"class":"GST","device":"/dev/pts/1","time":"2026-12-02T12:00:01.000Z","rms":2.000,"major":3.000,"minor":2.000,"orient":45.000,"lat":1.500,"lon":1.800,"alt":3.000}"#

    /// The lines received at `now`, or each `spacing` seconds after the one before.
    private func tracker(_ lines: [String], at now: Date = Date(), spacing: TimeInterval = 0) -> GNSSFixTracker {
        var tracker = GNSSFixTracker()
        for (index, line) in lines.enumerated() {
            guard let report = GpsdReport(line: Data(line.utf8)) else {
                Issue.record("not read: \(line)")
                continue
            }
            tracker.receive(report, at: now.addingTimeInterval(Double(index) * spacing))
        }
        return tracker
    }

    @Test("GST of the same epoch wins over the HDOP-derived eph: 2.4477 times the larger 1-sigma error")
    func gstPreferredOverEph() {
        let geolocation = tracker([Self.device, Self.tpv, Self.gst]).geolocation
        // max(1.5, 1.8) m at 1 sigma → 4.41 m at 95 %, not gpsd's eph of 17.1 m.
        #expect(geolocation.accuracyMeters == 4.41)
        #expect(geolocation.source == .gnss)
        #expect(geolocation.fixMode == .threeDimensional)
        #expect(geolocation.altitude == -10)
        #expect(geolocation.fixTime == "2026-12-02T12:00:01.000Z")
        #expect(geolocation.sensor == LocationSensor(driver: "NMEA0183"))
        #expect(geolocation.latitude == 37.35 && geolocation.longitude == -121.95)
    }

    @Test("a GST that arrives before its epoch's TPV is used too")
    func gstBeforeTPV() {
        #expect(tracker([Self.gst, Self.tpv]).geolocation.accuracyMeters == 4.41)
    }

    @Test("without GST or epx/epy (no satellite data), eph is the accuracy")
    func ephWithoutGSTOrEpxEpy() {
        #expect(tracker([Self.tpv]).geolocation.accuracyMeters == 17.1)
    }

    @Test("epx and epy (95 % per axis) become a 95 % circle when there is no GST")
    func epxEpyWithoutGST() {
        let line = #"{"class":"TPV","mode":2,"time":"2026-12-02T12:00:05.000Z","lat":37.35,"lon":-121.95,"epx":8.0,"epy":10.0,"eph":30.0}"#
        // 10 m / 1.96 * 2.4477 = 12.49 m (rounded up to centimetres).
        #expect(tracker([line]).geolocation.accuracyMeters == 12.49)
    }

    @Test("neither GST, epx/epy nor eph: the accuracy is unknown, never 0")
    func unknownAccuracy() {
        let line = #"{"class":"TPV","mode":3,"time":"2026-12-02T12:00:05.000Z","lat":37.35,"lon":-121.95,"altHAE":5}"#
        #expect(tracker([line]).geolocation.accuracyMeters == nil)
    }

    @Test("the first fix after an outage carries its own kilometre error, not the last good epoch's GST")
    func firstFixAfterOutage() {
        let noFix = #"{"class":"TPV","device":"/dev/pts/1","mode":1,"time":"2026-12-02T12:05:00.000Z"}"#
        let reacquired = #"{"class":"TPV","device":"/dev/pts/1","mode":2,"time":"2026-12-02T12:10:00.000Z","lat":37.36,"lon":-121.94,"eph":2400.0}"#
        // Received a minute apart, as an outage spaces them.
        let geolocation = tracker([Self.device, Self.tpv, Self.gst, noFix, reacquired], spacing: 60).geolocation
        #expect(geolocation.accuracyMeters == 2400)
        #expect(geolocation.fixTime == "2026-12-02T12:10:00.000Z")
    }

    @Test("mode 3 without any altitude is signed as a 2-D fix, without altitude")
    func twoDimensionalFixReportedAsMode3() {
        let line = #"{"class":"TPV","device":"/dev/pts/1","mode":3,"time":"2026-12-02T12:00:05.000Z","lat":37.35,"lon":-121.95,"eph":17.1}"#
        let geolocation = tracker([line]).geolocation
        #expect(geolocation.fixMode == .twoDimensional)
        #expect(geolocation.altitude == nil)
        #expect(geolocation.isPlausible)
    }

    @Test("a TPV without time is stamped with the agent's clock at receipt")
    func tpvWithoutTime() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let geolocation = tracker([Self.tpvWithoutTime], at: now).geolocation
        #expect(geolocation.fixTime == Timestamp.string(from: now))
        #expect(geolocation.accuracyMeters == 17.1)
    }

    @Test("a TPV without time takes the GST received with it (gpsd's first GST of a cycle has no time either)")
    func tpvWithoutTimeTakesRecentGST() {
        let gstWithoutTime = #"{"class":"GST","device":"/dev/pts/1","rms":2.000,"major":3.000,"minor":2.000,"orient":45.000,"lat":1.500,"lon":1.800,"alt":3.000}"#
        #expect(tracker([gstWithoutTime, Self.tpvWithoutTime], spacing: 0.2).geolocation.accuracyMeters == 4.41)
        // Seconds later it is another epoch's estimate: eph, not the old GST.
        #expect(tracker([gstWithoutTime, Self.tpvWithoutTime], spacing: 5).geolocation.accuracyMeters == 17.1)
    }

    @Test("a fix signed before its epoch's GST arrived is corrected by it, a poor GST included")
    func laterGSTCorrectsFix() {
        let poor = #"{"class":"GST","device":"/dev/pts/1","time":"2026-12-02T12:00:01.000Z","lat":200.0,"lon":150.0}"#
        #expect(tracker([Self.tpv, poor], spacing: 0.3).geolocation.accuracyMeters == 489.55)
    }

    @Test("losing the fix keeps the last fix with its own fix time: its age shows at signing")
    func lostFixKeepsLastFix() {
        let noFix = #"{"class":"TPV","device":"/dev/pts/1","mode":1,"time":"2026-12-02T12:05:00.000Z"}"#
        let geolocation = tracker([Self.tpv, Self.gst, noFix]).geolocation
        #expect(geolocation.fixTime == "2026-12-02T12:00:01.000Z")
        #expect(geolocation.position != nil)
    }

    @Test("never a fix: signed as fix_mode none without a position, with the receiver")
    func neverAFix() {
        let noFix = #"{"class":"TPV","device":"/dev/pts/1","mode":1}"#
        let geolocation = tracker([Self.device, noFix]).geolocation
        #expect(geolocation.fixMode == FixMode.none)
        #expect(geolocation.position == nil)
        #expect(geolocation.source == .gnss)
        #expect(geolocation.sensor?.driver == "NMEA0183")
        #expect(geolocation.isPlausible)
    }

    @Test("a receiver's identity (DEVICES list, subtypes) becomes the sensor, made printable")
    func sensorFromDevices() {
        let devices = #"{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/ttyACM0","driver":"u-blox","subtype":"SW ROM CORE 3.01 (107888),HW 00080000","subtype1":"FWVER=SPG 3.01,PROTVER=18.00,MOD=NEO-M8N\u0007"}]}"#
        let line = #"{"class":"TPV","device":"/dev/ttyACM0","mode":2,"time":"2026-12-02T12:00:05.000Z","lat":1,"lon":2,"eph":3}"#
        let sensor = tracker([devices, line]).geolocation.sensor
        #expect(sensor?.driver == "u-blox")
        #expect(sensor?.firmware == "SW ROM CORE 3.01 (107888),HW 00080000")
        #expect(sensor?.model == "FWVER=SPG 3.01,PROTVER=18.00,MOD=NEO-M8N?")
        #expect(sensor?.implausibility == nil)
    }

    @Test("lines that are not gpsd's JSON, or of classes the agent does not use, change nothing")
    func otherLinesIgnored() {
        let lines = [
            #"{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}"#,
            #"{"class":"SKY","satellites":[]}"#, "not json", #"{"class":"TPV","mode":"3"}"#,
            #"{"class":"TPV","mode":3,"lat":91,"lon":0}"#,
        ]
        var tracker = GNSSFixTracker()
        for line in lines {
            if let report = GpsdReport(line: Data(line.utf8)) { tracker.receive(report, at: Date()) }
        }
        #expect(tracker.lastFix == nil)
    }
}
