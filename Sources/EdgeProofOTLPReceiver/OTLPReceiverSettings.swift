import EdgeProofService
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `otlp_receiver:` of the agent: where applications on the device send their OTLP/HTTP metrics.
///
/// ```yaml
/// otlp_receiver:
///   listen: "127.0.0.1:4318"    # required; a loopback address unless allow_remote
///   allow_remote: false         # true: any address (whoever reaches it gets metrics TPM-signed)
///   max_request_bytes: 1048576  # larger requests: 413
/// ```
public struct OTLPReceiverSettings: Sendable, Hashable, Decodable {
    public var host: String
    /// 0: any free port (tests).
    public var port: Int
    public var allowRemote: Bool
    public var maximumRequestBytes: Int

    public static let defaultMaximumRequestBytes = 1 << 20

    public init(host: String = "127.0.0.1", port: Int = 4318, allowRemote: Bool = false,
        maximumRequestBytes: Int = defaultMaximumRequestBytes)
    {
        self.host = host
        self.port = port
        self.allowRemote = allowRemote
        self.maximumRequestBytes = maximumRequestBytes
    }

    enum CodingKeys: String, CodingKey {
        case listen
        case allowRemote = "allow_remote"
        case maximumRequestBytes = "max_request_bytes"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let listen = try container.decode(String.self, forKey: .listen)
        guard let address = MetricsEndpointSettings.parse(listen) else {
            throw DecodingError.dataCorruptedError(
                forKey: .listen, in: container,
                debugDescription: "\"\(listen)\" is not HOST:PORT with an IPv4 address and a port 0-65535")
        }
        let allowRemote = try container.decodeIfPresent(Bool.self, forKey: .allowRemote) ?? false
        let maximum = try container.decodeIfPresent(Int.self, forKey: .maximumRequestBytes) ?? Self.defaultMaximumRequestBytes
        guard maximum > 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .maximumRequestBytes, in: container, debugDescription: "must be positive")
        }
        guard allowRemote || Self.isLoopback(address.host) else {
            throw DecodingError.dataCorruptedError(
                forKey: .listen, in: container,
                debugDescription: "\(address.host) is not a loopback address: applications on other hosts would get "
                    + "their metrics signed by this device's TPM; set allow_remote: true to mean it")
        }
        self.init(host: address.host, port: address.port, allowRemote: allowRemote, maximumRequestBytes: maximum)
    }

    /// 127.0.0.0/8.
    static func isLoopback(_ host: String) -> Bool {
        host.split(separator: ".").first == "127"
    }

    public var description: String { "\(host):\(port)" }
}
