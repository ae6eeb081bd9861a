/// What the gateway does with agent traffic.
///
/// - ``passthrough``: the trust boundary is the collector; the gateway republishes every message
///   unchanged (payload and MQTT v5 properties) and checks nothing.
/// - ``enforce``: gateway and collector share a trust boundary; the gateway checks envelopes
///   (allowlist, key hash, signature, geography, timestamp proximity, property consistency) and
///   nonce requests (allowlist only), rejects with the aligned error format and republishes
///   without agent-supplied user properties.
public enum GatewayMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case passthrough
    case enforce

    /// Parses a mode name, case-insensitively; accepts the prototype's names for enforce
    /// (`gateway-policy-enforcement`, `gateway-allowlist`).
    public init?(name: String) {
        switch name.lowercased() {
        case "passthrough": self = .passthrough
        case "enforce", "gateway-policy-enforcement", "gateway-allowlist": self = .enforce
        default: return nil
        }
    }

    public var description: String { rawValue }
}

extension GatewayMode: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let mode = GatewayMode(name: name) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "unknown gateway mode \"\(name)\"; use passthrough or enforce")
        }
        self = mode
    }
}
