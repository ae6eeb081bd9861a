/// A nonce request is empty or a small JSON object, never parsed; only its size is bounded.
extension NonceRequest {
    /// Larger requests are refused with `payload_too_large` (by the gateway in enforce mode, always by
    /// the collector).
    public static let maximumSize = 4096

    /// The failure for a request of `size` bytes above ``maximumSize``, or nil.
    public static func checkSize(_ size: Int) -> ValidationFailure? {
        guard size > maximumSize else { return nil }
        return ValidationFailure(
            .payloadTooLarge, "nonce request of \(size) bytes exceeds the limit of \(maximumSize) bytes",
            details: ["size": .number(Double(size)), "limit": .number(Double(maximumSize))])
    }
}
