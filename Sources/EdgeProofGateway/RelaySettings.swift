import EdgeProofService
import EdgeProofStorage

/// The `relay:` section of a gateway with an `upstream:` broker: where the two durable queues live,
/// their bounds, and how fast a backlog is released upstream.
///
/// Keys (defaults in parentheses): `directory` (required with `upstream:`; holds `up/`, `down/` and
/// `agents.json`), `max_bytes` (268435456, per direction; the queue is also held in memory),
/// `max_age_s` (86400), `when_full` (`drop_oldest` or `drop_newest`), `release_per_s` (1000: messages
/// per second sent upstream, so a backlog of nonce requests from hundreds of agents does not arrive at
/// the collectors at once; 0 = unpaced), `release_burst` (a tenth of `release_per_s`, at least 1).
public struct RelaySettings: Sendable, Hashable {
    public var directory: String?
    public var maximumBytes: Int
    public var maximumAge: Duration
    public var whenFull: EnvelopeSpool.OverflowPolicy
    public var releasePerSecond: Double
    public var releaseBurst: Int?

    public init(
        directory: String? = nil, maximumBytes: Int = 256 * 1024 * 1024, maximumAge: Duration = .seconds(86_400),
        whenFull: EnvelopeSpool.OverflowPolicy = .dropOldest, releasePerSecond: Double = 1000, releaseBurst: Int? = nil
    ) {
        self.directory = directory
        self.maximumBytes = maximumBytes
        self.maximumAge = maximumAge
        self.whenFull = whenFull
        self.releasePerSecond = releasePerSecond
        self.releaseBurst = releaseBurst
    }

    /// Tokens the release pacing may spend at once.
    public var burst: Int {
        releaseBurst ?? max(1, Int(releasePerSecond / 10))
    }

    var queueLimits: RelayQueue<RelayedMessage>.Limits {
        .init(maximumBytes: maximumBytes, maximumAge: maximumAge, whenFull: whenFull)
    }

    func validate() throws(ConfigurationError) {
        guard let directory, !directory.isEmpty else {
            throw ConfigurationError(key: "relay.directory", problem: "a gateway with upstream: needs relay.directory for its durable queues")
        }
        guard maximumBytes >= 64 * 1024 else {
            throw ConfigurationError(key: "relay.max_bytes", problem: "\(maximumBytes) is below 65536")
        }
        try maximumAge.validate(key: "relay.max_age_s")
        guard releasePerSecond >= 0, releasePerSecond.isFinite else {
            throw ConfigurationError(key: "relay.release_per_s", problem: "must be 0 (unpaced) or positive")
        }
        if let releaseBurst, releaseBurst < 1 {
            throw ConfigurationError(key: "relay.release_burst", problem: "must be at least 1")
        }
    }
}

extension RelaySettings: Decodable {
    enum CodingKeys: String, CodingKey {
        case directory
        case maximumBytes = "max_bytes"
        case maximumAge = "max_age_s"
        case whenFull = "when_full"
        case releasePerSecond = "release_per_s"
        case releaseBurst = "release_burst"
    }

    public init(from decoder: any Decoder) throws {
        let defaults = RelaySettings()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        directory = try container.decodeIfPresent(String.self, forKey: .directory)
        maximumBytes = try container.decodeIfPresent(Int.self, forKey: .maximumBytes) ?? defaults.maximumBytes
        maximumAge = try container.decodeDurationIfPresent(forKey: .maximumAge) ?? defaults.maximumAge
        whenFull = try container.decodeIfPresent(EnvelopeSpool.OverflowPolicy.self, forKey: .whenFull) ?? defaults.whenFull
        releasePerSecond = try container.decodeIfPresent(Double.self, forKey: .releasePerSecond) ?? defaults.releasePerSecond
        releaseBurst = try container.decodeIfPresent(Int.self, forKey: .releaseBurst)
    }
}
