import Foundation

/// Turns a `DecodingError` into a short sentence that names the field and the problem, so that
/// bad input gets a specific answer ("missing field agent_name") instead of a type dump.
public enum DecodingProblem {
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "invalid JSON" }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "missing field \(key.stringValue)\(parent)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \(path(context.codingPath))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "invalid JSON" }
            return "invalid value at \(path(context.codingPath)): \(clipped(context.debugDescription, to: 160))"
        @unknown default:
            return "invalid JSON"
        }
    }

    /// Keys come from the sender (metric value names): each is clipped, so that a 100 KB key is not
    /// echoed into the rejection, the event and the log.
    private static func path(_ keys: [any CodingKey]) -> String {
        guard !keys.isEmpty else { return "top level" }
        return keys.map { key in key.intValue.map { "[\($0)]" } ?? clipped(key.stringValue, to: 64) }
            .joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    private static func clipped(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        return text.prefix(limit) + "…"
    }
}
