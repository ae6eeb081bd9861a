/// A nonce request is empty or a small JSON object; its members are informative (the topic names the
/// agent), but what it carries is read strictly all the same.
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

    /// The failure for `payload` as a request: too large (`payload_too_large`), or neither empty nor
    /// strict JSON of the request's shape (`malformed_envelope`, saying what is wrong); nil when fine.
    public static func check(_ payload: some Collection<UInt8>) -> ValidationFailure? {
        if let failure = checkSize(payload.count) { return failure }
        guard !payload.isEmpty else { return nil }
        do {
            _ = try NonceRequest(strictJSON: payload)
            return nil
        } catch {
            return ValidationFailure(.malformedEnvelope, error.description(in: "nonce request"))
        }
    }
}
