import Foundation

/// `JSONEncoder` as every wire type and file of ours is written when ``JSONWriter`` does not write it
/// itself: compact, keys sorted, slashes unescaped. ``JSONWriter`` writes the same bytes.
public enum WireJSON {
    public static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
