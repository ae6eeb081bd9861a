/// A cheap pre-scan of untrusted JSON before it reaches `JSONDecoder`.
///
/// Foundation's decoder traps (SIGILL, the whole process) while locating the error for a document
/// that ends right where its nesting passes the decoder's own limit of 512 — 513 `[` in one MQTT
/// message would take down a gateway or collector — and below that limit it recurses once per level.
/// Every JSON document from the network is pre-scanned: the contract's are a few levels deep, so
/// anything deeper than ``maximumDepth`` is refused before decoding.
public enum JSONNesting {
    /// Envelope, header and claims need at most 7 levels; metric values are bounded by this too.
    public static let maximumDepth = 64

    /// Whether arrays and objects in `bytes` nest deeper than `limit` (brackets inside strings,
    /// escaped or not, do not count). One pass, no allocation; malformed input is left to the decoder.
    public static func exceeds(_ limit: Int = maximumDepth, in bytes: some Sequence<UInt8>) -> Bool {
        // Contiguous bytes (`Data`, arrays) are scanned through a buffer, not an iterator per byte.
        if let exceeds = bytes.withContiguousStorageIfAvailable({ scan($0, limit: limit) }) { return exceeds }
        return scan(bytes, limit: limit)
    }

    private static func scan(_ bytes: some Sequence<UInt8>, limit: Int) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            default:
                break
            }
        }
        return false
    }
}
