import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import Synchronization

/// The state of a gateway that bridges its site broker to an upstream broker: a durable queue per
/// direction and the site's agents, whose answers (nonce responses, receipts, rejections) it
/// subscribes to upstream.
///
/// The agents are remembered in `agents.json` of the relay directory (written durably before the
/// agent's first message goes up), so that after a restart the gateway subscribes to their answers
/// again before anything of theirs is released.
final class SiteRelay: Sendable {
    let up: RelayQueue<RelayedMessage>
    let down: RelayQueue<RelayedMessage>
    let settings: RelaySettings
    /// The site broker's topic tree and the upstream broker's.
    let site: TopicTree
    let upstream: TopicTree
    private let agentsFile: URL
    private let followed: Mutex<Set<String>>

    init(
        settings: RelaySettings, site: TopicTree, upstream: TopicTree,
        report: @escaping @Sendable (_ direction: String, _ reason: String, _ count: Int) -> Void
    ) throws(StorageError) {
        guard let path = settings.directory else { throw StorageError("relay.directory is not set") }
        let directory = URL(fileURLWithPath: path)
        self.settings = settings
        self.site = site
        self.upstream = upstream
        up = try RelayQueue(
            directory: directory.appendingPathComponent("up"), limits: settings.queueLimits,
            report: { report("up", $0, $1) })
        down = try RelayQueue(
            directory: directory.appendingPathComponent("down"), limits: settings.queueLimits,
            report: { report("down", $0, $1) })
        agentsFile = directory.appendingPathComponent("agents.json")
        var known: Set<String> = []
        if let data = FileManager.default.contents(atPath: agentsFile.path) {
            guard let names = try? JSONDecoder().decode([String].self, from: data) else {
                throw StorageError("\(agentsFile.path) is not a list of agent names; move it aside to start over")
            }
            known = Set(names.filter(AgentName.isValid))
        }
        followed = Mutex(known)
    }

    var agents: Set<String> { followed.withLock { $0 } }

    func isFollowing(_ agent: String) -> Bool { followed.withLock { $0.contains(agent) } }

    /// The agents of `names` not yet followed, now remembered durably; empty if all were known.
    func follow(_ names: Set<String>) throws(StorageError) -> Set<String> {
        let (new, all) = followed.withLock { known -> (Set<String>, [String]) in
            let new = names.subtracting(known)
            known.formUnion(new)
            return (new, known.sorted())
        }
        guard !new.isEmpty else { return [] }
        let data: Data
        do {
            data = try JSONEncoder().encode(all)
        } catch {
            throw StorageError("cannot encode the site's agents: \(error)")
        }
        try DurableFile.write(data, to: agentsFile, permissions: 0o600)
        return new
    }

    /// The upstream filters that carry answers for `agent`.
    func answerFilters(for agent: String) -> [String] {
        [upstream.agentNonceResponse(agent), upstream.agentReceipts(agent), upstream.agentRejections(agent)]
    }

    /// The status of both queues.
    func status(siteConnected: Bool, upstreamConnected: Bool, now: Date = Date()) async -> RelayStatus {
        func queue(_ depth: RelayQueue<RelayedMessage>.Depth, _ dropped: [String: Int]) -> RelayStatus.Queue {
            RelayStatus.Queue(
                messages: depth.messages, bytes: depth.bytes, inFlight: depth.inFlight,
                oldestAgeSeconds: depth.oldestEnqueuedAt.map { max(0, (now.timeIntervalSince($0) * 1000).rounded() / 1000) },
                dropped: dropped.isEmpty ? nil : dropped)
        }
        return RelayStatus(
            siteConnected: siteConnected, upstreamConnected: upstreamConnected,
            up: queue(await up.depth, await up.dropped), down: queue(await down.depth, await down.dropped),
            agents: agents.count)
    }
}

/// Paces releases: `rate` tokens a second, at most `burst` saved up.
struct TokenBucket {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant

    init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = Double(max(1, burst))
        tokens = self.burst
        last = .now
    }

    /// Whole tokens available now.
    mutating func available() -> Int {
        let now = ContinuousClock.now
        let elapsed = last.duration(to: now)
        last = now
        tokens = min(burst, tokens + rate * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        return Int(tokens)
    }

    mutating func spend(_ count: Int) { tokens -= Double(count) }

    /// How long until one token is there.
    var untilNext: Duration {
        .milliseconds(max(1, Int(((1 - tokens) / rate * 1000).rounded(.up))))
    }
}
