import Foundation

/// A plain-text table with aligned columns, for human-readable command output: the CLI's `allowlist list`
/// and `demo` summaries and the bench figures. In the kit because it is the one module below the CLI,
/// the demo and the bench that all of them use (Core is the wire contract only).
public struct TextTable: Sendable {
    public var header: [String]
    public var rows: [[String]]

    public init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    public var rendered: String {
        let all = [header] + rows
        let widths = header.indices.map { column in
            all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        let separator = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), separator] + rows.map(line)).joined(separator: "\n")
    }
}
