import EdgeProofAgent
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A read-only `monitor` connection that keeps every status and trust event it sees. Survives broker
/// restarts (the client reconnects and renews its subscriptions).
final class FaultMonitor: Sendable {
    let client: MQTTClient
    private let seen = Seen()
    private let reader: Task<Void, Never>

    private final class Seen: Sendable {
        let statuses = Mutex<[(status: ComponentStatus, at: Date)]>([])
        let events = Mutex<[TrustEvent]>([])
    }

    init(_ system: SystemFixture) async throws {
        let broker = system.broker
        client = try MQTTClient(
            configuration: MQTTConfiguration(
                port: Int(broker.port), clientID: "monitor", caFile: broker.caFile,
                certificateFile: broker.certificate(for: "monitor"), keyFile: broker.key(for: "monitor"),
                cleanStart: true),
            logger: system.logger)
        let messages = client.messages
        let seen = seen
        reader = Task {
            for await message in messages {
                if message.topic.contains("/status/"),
                    let status = try? JSONDecoder().decode(ComponentStatus.self, from: message.payload)
                {
                    seen.statuses.withLock { $0.append((status, Date())) }
                } else if message.topic.contains("/events/"),
                    let event = try? JSONDecoder().decode(TrustEvent.self, from: message.payload)
                {
                    seen.events.withLock { $0.append(event) }
                }
            }
        }
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        try await client.subscribe("edgeproof/v1/status/#")
        try await client.subscribe("edgeproof/v1/events/#")
    }

    func shutdown() async {
        await client.shutdown()
        reader.cancel()
    }

    /// Waits until `key` ("collector/collector-1") reports online with a `since` not before `startedAfter`
    /// (so a retained status of an earlier run does not count).
    func waitForOnline(
        _ key: String, startedAfter: Date = .distantPast, timeout: Duration = .seconds(60)
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        // `since` has millisecond precision; the process may record its start a little before `startedAfter`.
        let earliest = startedAfter.addingTimeInterval(-1)
        while ContinuousClock.now < deadline {
            let online = seen.statuses.withLock { entries in
                entries.contains { entry in
                    "\(entry.status.component)/\(entry.status.id)" == key && entry.status.state == .online
                        && (Timestamp.date(from: entry.status.since) ?? .distantPast) >= earliest
                }
            }
            if online { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFixtureError("\(key) did not report online within \(timeout)")
    }

    /// The latest status of `key` whose state is `state`.
    func latest(_ key: String, state: ComponentStatus.State) -> ComponentStatus? {
        seen.statuses.withLock { entries in
            entries.last { "\($0.status.component)/\($0.status.id)" == key && $0.status.state == state }?.status
        }
    }

    /// Events of `kind` published by `component`/`id` so far.
    func events(_ kind: String, from component: String, _ id: String) -> [TrustEvent] {
        seen.events.withLock { $0.filter { $0.kind == kind && $0.component == component && $0.id == id } }
    }

    /// Waits until `component`/`id` published at least one event of `kind`.
    func waitForEvent(_ kind: String, from component: String, _ id: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !events(kind, from: component, id).isEmpty { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}


/// Runs blocking fixture work (process start, kill, wait; mosquitto restart) on a Dispatch thread,
/// not on one of the few threads of the Swift concurrency pool, which the in-process agents need.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// What these tests need of the machine.
enum FaultEnvironment {
    static var isRoot: Bool { getuid() == 0 }

    /// Whether a tmpfs can be mounted here (root with CAP_SYS_ADMIN): tried once on a scratch directory.
    static let canMountTmpfs: Bool = {
        guard isRoot, let scratch = try? TemporaryDirectory(prefix: "edgeproof-mount-probe") else { return false }
        defer { scratch.remove() }
        guard (try? ProcessRunner.run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", scratch.path]))?.status == 0
        else { return false }
        _ = try? ProcessRunner.run("umount", [scratch.path])
        return true
    }()

    /// Whether `chattr +i` works on a directory in the temporary directory's file system.
    static let canMakeImmutable: Bool = {
        guard isRoot, let scratch = try? TemporaryDirectory(prefix: "edgeproof-chattr-probe") else { return false }
        defer {
            _ = try? ProcessRunner.run("chattr", ["-i", scratch.path])
            scratch.remove()
        }
        return (try? ProcessRunner.run("chattr", ["+i", scratch.path]))?.status == 0
    }()
}

/// A small tmpfs mounted on a directory for one test; ``unmount()`` it in a `defer`.
struct SmallFileSystem {
    let mountPoint: URL

    static func mount(at mountPoint: URL, bytes: Int) throws -> SmallFileSystem {
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let result = try ProcessRunner.run(
            "mount", ["-t", "tmpfs", "-o", "size=\(bytes),mode=0755", "tmpfs", mountPoint.path])
        guard result.status == 0 else {
            throw TestFixtureError("mount -t tmpfs on \(mountPoint.path) failed: \(result.standardError)")
        }
        return SmallFileSystem(mountPoint: mountPoint)
    }

    /// Unmounts exactly the directory that was mounted (lazily if something still holds a file there).
    func unmount() {
        if (try? ProcessRunner.run("umount", [mountPoint.path]))?.status != 0 {
            _ = try? ProcessRunner.run("umount", ["-l", mountPoint.path])
        }
    }

    var fillerFile: URL { mountPoint.appendingPathComponent(".filler") }

    /// Writes a filler file until the file system reports ENOSPC; returns its size.
    @discardableResult
    func fill() throws -> Int {
        let fd = open(fillerFile.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TestFixtureError("cannot create \(fillerFile.path): errno \(errno)") }
        defer { close(fd) }
        var written = 0
        for chunk in [64 * 1024, 4096, 512, 1] {
            let buffer = [UInt8](repeating: 0x2E, count: chunk)
            while true {
                let result = buffer.withUnsafeBytes { write(fd, $0.baseAddress, chunk) }
                if result > 0 {
                    written += result
                    continue
                }
                guard errno == ENOSPC else { throw TestFixtureError("filling \(mountPoint.path): errno \(errno)") }
                break
            }
        }
        _ = fsync(fd)
        return written
    }

    /// Removes the filler: the space is back.
    func free() throws {
        try FileManager.default.removeItem(at: fillerFile)
    }

    /// Whether one more byte fits in a new file (false while full).
    func hasSpace() -> Bool {
        let probe = mountPoint.appendingPathComponent(".probe")
        defer { unlink(probe.path) }
        let fd = open(probe.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var byte: UInt8 = 0x2E
        return write(fd, &byte, 1) == 1
    }
}

extension SystemFixture {
    /// Waits until no collector of `collectors` has written a record for 2 s (at most 20 s): messages a
    /// broker queued for a restarted collector are in its files before they are counted.
    func settle(collectors: [String]) async {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        var last = collectors.map { recordLineCount(of: $0) }
        var stableSince = clock.now
        while clock.now < deadline, clock.now - stableSince < .seconds(2) {
            try? await Task.sleep(for: .milliseconds(250))
            let now = collectors.map { recordLineCount(of: $0) }
            if now != last {
                last = now
                stableSince = clock.now
            }
        }
    }
}

/// Batches still in the agents' spools (not yet receipted).
func spooledCount(_ agents: [Agent]) async -> Int {
    var total = 0
    for agent in agents { total += await agent.spooledCount() }
    return total
}

/// A duration as seconds with one decimal, for test output.
func secondsText(_ duration: Duration) -> String {
    String(format: "%.1f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
}
