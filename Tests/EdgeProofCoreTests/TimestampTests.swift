import EdgeProofTesting
import Foundation
import Testing

@testable import EdgeProofCore

@Suite("Timestamps: the fixed-format fast path")
struct TimestampTests {
    @Test("writes what the formatter writes for 50,000 random dates, 1970 to 9999, millisecond edges included")
    func writesWhatTheFormatterWrites() {
        var random = SplitMix64(seed: 11)
        for round in 0..<50_000 {
            let seconds: Double =
                switch round % 4 {
                case 0: Double.random(in: 0..<253_402_300_800, using: &random)
                case 1: Double(Int.random(in: 0..<4_102_444_800, using: &random)) + 0.9995
                case 2: Double(Int.random(in: 0..<4_102_444_800, using: &random)) + Double(Int.random(in: 0...999, using: &random)) / 1000
                default: Date().timeIntervalSince1970 + Double.random(in: -1e6...1e6, using: &random)
                }
            let date = Date(timeIntervalSince1970: seconds)
            #expect(Timestamp.fixedFormatString(date) == Timestamp.formatterString(from: date), "\(seconds)")
        }
        #expect(Timestamp.fixedFormatString(Date(timeIntervalSince1970: -1)) == nil)
        #expect(Timestamp.fixedFormatString(Date(timeIntervalSinceReferenceDate: 1e300)) == nil)
        #expect(Timestamp.fixedFormatString(Date(timeIntervalSinceReferenceDate: .nan)) == nil)
    }

    @Test("gives the formatter's exact Date for 50,000 random times in both forms, years 1600 to 9999")
    func agreesWithFormatter() throws {
        var random = SplitMix64(seed: 8)
        for round in 0..<50_000 {
            let year = round % 4 == 0 ? Int.random(in: 1600...9999, using: &random) : Int.random(in: 1995...2100, using: &random)
            let month = Int.random(in: 1...12, using: &random)
            let day = Int.random(in: 1...(month == 2 ? 29 : 30), using: &random)
            var text = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, Int.random(in: 0...23, using: &random),
                Int.random(in: 0...59, using: &random), Int.random(in: 0...59, using: &random))
            text += round % 5 == 0 ? "Z" : String(format: ".%03dZ", Int.random(in: 0...999, using: &random))
            let reference = Timestamp.formatterDate(from: text)
            let fast = Timestamp.fixedFormatDate(text)
            if month == 2, day == 29, !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) {
                #expect(fast == nil, "\(text)")  // not a date: left to the formatter
                continue
            }
            let date = try #require(fast, "\(text)")
            #expect(date.timeIntervalSinceReferenceDate.bitPattern == reference?.timeIntervalSinceReferenceDate.bitPattern, "\(text)")
        }
    }

    @Test(
        "leaves every other form to the formatter",
        arguments: [
            "2026-02-30T10:00:00.000Z", "2026-11-18T24:00:00.000Z", "2026-11-18T11:06:60.000Z", "2026-11-18T11:06:40.1Z",
            "2026-11-18T11:06:40.1234Z", "2026-11-18t11:06:40.123z", "2026-11-18T11:06:40.123+00:00", "1599-12-31T00:00:00Z",
            "2026-11-18 11:06:40.123Z", "2026-13-18T11:06:40.123Z", "2026-00-18T11:06:40.123Z", "2026-11-00T11:06:40Z",
            "2026-11-18T11:06:40.123Zjunk", "+2026-11-18T11:06:40Z", "2026-11-18T11:06:40,123Z", "2026-1a-18T11:06:40Z",
        ])
    func leavesOtherFormsToFormatter(text: String) {
        #expect(Timestamp.fixedFormatDate(text) == nil)
        #expect(Timestamp.date(from: text) == Timestamp.formatterDate(from: text))
    }
}
