import Foundation

/// The contract's timestamps: ISO 8601 in UTC with milliseconds ("2026-11-21T10:00:00.123Z").
public enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let withoutFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)

    public static func string(from date: Date) -> String {
        fixedFormatString(date) ?? formatterString(from: date)
    }

    /// The ISO 8601 formatter alone: the reference ``string(from:)`` agrees with.
    static func formatterString(from date: Date) -> String {
        date.formatted(withFraction)
    }

    /// `yyyy-MM-ddTHH:mm:ss.SSSZ` written directly (the formatter costs more than verifying a
    /// signature) for years 1970–9999; nil otherwise. Milliseconds are truncated, as the formatter does.
    static func fixedFormatString(_ date: Date) -> String? {
        // From the Date's own value (seconds since 2001) the way the formatter reads it: whole
        // seconds, then the truncated milliseconds of the remainder.
        let sinceReference = date.timeIntervalSinceReferenceDate
        guard sinceReference >= -978_307_200, sinceReference < 252_423_993_600 else { return nil }
        let wholeSeconds = sinceReference.rounded(.down)
        let seconds = Int(wholeSeconds) + 978_307_200
        let milliseconds = min(999, Int((sinceReference - wholeSeconds) * 1000))
        let days = seconds / 86_400
        let millisecondOfDay = seconds % 86_400 * 1000 + milliseconds
        let (year, month, day) = civilDate(daysSince1970: days)
        var bytes = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at offset: Int, digits: Int) {
            var value = value
            for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 0, digits: 4)
        bytes[4] = UInt8(ascii: "-")
        put(month, at: 5, digits: 2)
        bytes[7] = UInt8(ascii: "-")
        put(day, at: 8, digits: 2)
        bytes[10] = UInt8(ascii: "T")
        put(millisecondOfDay / 3_600_000, at: 11, digits: 2)
        bytes[13] = UInt8(ascii: ":")
        put(millisecondOfDay / 60_000 % 60, at: 14, digits: 2)
        bytes[16] = UInt8(ascii: ":")
        put(millisecondOfDay / 1000 % 60, at: 17, digits: 2)
        bytes[19] = UInt8(ascii: ".")
        put(millisecondOfDay % 1000, at: 20, digits: 3)
        bytes[23] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    private static func civilDate(daysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Accepts the format with or without fractional seconds; nil for anything else.
    ///
    /// The two exact forms agents write (`yyyy-MM-ddTHH:mm:ss.SSSZ` and `yyyy-MM-ddTHH:mm:ssZ`, with a
    /// real calendar date) are read directly, to the same `Date` the formatter gives; everything else
    /// goes to the formatter, which decides as before.
    public static func date(from text: String) -> Date? {
        if let date = fixedFormatDate(text) { return date }
        return formatterDate(from: text)
    }

    /// The ISO 8601 formatter alone: the reference ``date(from:)`` agrees with.
    static func formatterDate(from text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        if let date = try? withFraction.parse(text) { return date }
        return try? withoutFraction.parse(text)
    }

    /// `yyyy-MM-ddTHH:mm:ss(.SSS)Z` for years 1600–9999 with every field in range; nil otherwise.
    static func fixedFormatDate(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            guard bytes.count == 20 || bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
                bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
                bytes[bytes.count - 1] == UInt8(ascii: "Z")
            else { return nil }
            func number(_ start: Int, _ length: Int) -> Int? {
                var value = 0
                for index in start..<start + length {
                    let digit = Int(bytes[index]) - Int(UInt8(ascii: "0"))
                    guard (0...9).contains(digit) else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            var milliseconds = 0
            if bytes.count == 24 {
                guard bytes[19] == UInt8(ascii: "."), let fraction = number(20, 3) else { return nil }
                milliseconds = fraction
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                (1600...9999).contains(year), (1...12).contains(month), (1...daysIn(month, of: year)).contains(day),
                hour < 24, minute < 60, second < 60
            else { return nil }
            // The formatter's arithmetic: whole days since 2001, plus the time of day with its fraction.
            let days = daysSinceReference(year: year, month: month, day: day)
            let timeOfDay = Double(hour * 3600 + minute * 60 + second) + Double(milliseconds) / 1000
            return Date(timeIntervalSinceReferenceDate: Double(days * 86400) + timeOfDay)
        }
    }

    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 2001-01-01 to a proleptic Gregorian date (the civil-from-days inverse, shifted).
    private static func daysSinceReference(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400  // years here are positive
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468 - 11_323
    }
}
