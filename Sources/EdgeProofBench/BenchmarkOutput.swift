import Foundation

/// A benchmark could not run or its measurement failed.
public struct BenchmarkError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A rate for a table cell: whole units.
func format(_ rate: Double) -> String {
    String(format: "%.0f", rate)
}

/// The last line every `edgeproof bench` command prints: its figures as one JSON object, keys sorted.
func jsonLine(_ figures: [String: Double]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(figures), as: UTF8.self)
}

/// Runs `body` for indices `0..<count` and returns calls per second.
func measureRate(_ count: Int, _ body: (Int) throws -> Void) throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    for index in 0..<count { try body(index) }
    return Double(count) / seconds(clock.now - start)
}
