import EdgeProofCore

/// Where the agent's signed position comes from: the `location:` object's `source` and `gpsd` keys.
public struct LocationSettings: Sendable, Hashable {
    public enum Source: String, Sendable, Hashable, Decodable {
        /// The `geolocation:` of the configuration, if any, signed with `source: configured`.
        case configured
        /// The latest fix of the GNSS receiver that gpsd serves, signed with `source: gnss`.
        case gpsd
    }

    public var source: Source
    /// gpsd's JSON socket.
    public var gpsdHost: String
    public var gpsdPort: Int

    public static let defaultGpsdHost = "127.0.0.1"
    public static let defaultGpsdPort = 2947

    public init(source: Source = .configured, gpsdHost: String = defaultGpsdHost, gpsdPort: Int = defaultGpsdPort) {
        self.source = source
        self.gpsdHost = gpsdHost
        self.gpsdPort = gpsdPort
    }

    /// `host:port`, `host` alone (the default port), or `[v6]:port`; nil when the port is not 1–65535.
    public init?(gpsdAddress: String, source: Source = .gpsd) {
        var host = gpsdAddress
        var port = Self.defaultGpsdPort
        if let colon = gpsdAddress.lastIndex(of: ":"), !gpsdAddress.hasSuffix("]") {
            guard let parsed = Int(gpsdAddress[gpsdAddress.index(after: colon)...]), (1...65_535).contains(parsed)
            else { return nil }
            port = parsed
            host = String(gpsdAddress[..<colon])
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(source: source, gpsdHost: host, gpsdPort: port)
    }
}
