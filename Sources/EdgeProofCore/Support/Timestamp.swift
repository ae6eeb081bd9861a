import Foundation

/// The contract's timestamps: ISO 8601 in UTC with milliseconds ("2026-11-21T10:00:00.123Z").
public enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let withoutFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)

    public static func string(from date: Date) -> String {
        date.formatted(withFraction)
    }

    /// Accepts the format with or without fractional seconds; nil for anything else.
    public static func date(from text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        if let date = try? withFraction.parse(text) { return date }
        return try? withoutFraction.parse(text)
    }
}
