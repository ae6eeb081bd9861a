import Foundation

/// `metrics: {listen: "127.0.0.1:9464"}`: where a service serves `GET /metrics`, `/healthz` and `/readyz`.
public struct MetricsEndpointSettings: Sendable, Hashable, Decodable {
    public var host: String
    /// 0: any free port (tests).
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }

    enum CodingKeys: String, CodingKey {
        case listen
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let listen = try container.decode(String.self, forKey: .listen)
        guard let parsed = Self.parse(listen) else {
            throw DecodingError.dataCorruptedError(
                forKey: .listen, in: container,
                debugDescription: "\"\(listen)\" is not HOST:PORT with an IPv4 address and a port 0-65535")
        }
        self = parsed
    }

    /// `HOST:PORT` with a dotted IPv4 address (the endpoint binds it; no name lookup).
    public static func parse(_ text: String) -> MetricsEndpointSettings? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon])
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { return nil }
        return MetricsEndpointSettings(host: host, port: port)
    }

    public var description: String { "\(host):\(port)" }
}
