import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// gpsfake replaying an NMEA log through a gpsd of its own on 127.0.0.1, as a GNSS receiver would feed it:
/// the agent's `location.gpsd` for the demo and the tests. gpsfake feeds one sentence every `cycle`;
/// ``NMEALog`` writes four per epoch, so a cycle of 0.25 s replays one epoch a second.
public final class GPSFake: Sendable {
    public let port: UInt16
    public let log: URL
    private let process: Process
    /// The gpsd gpsfake started (its child), found once it listens: stopped by pid if gpsfake leaves it behind.
    private let daemon: pid_t?

    static let startTimeout: Duration = .seconds(15)

    private init(port: UInt16, log: URL, process: Process, daemon: pid_t?) {
        self.port = port
        self.log = log
        self.process = process
        self.daemon = daemon
    }

    /// `host:port` for the agent's `location.gpsd`.
    public var address: String { "127.0.0.1:\(port)" }

    public var processIdentifier: pid_t { process.processIdentifier }

    /// Writes `fixes` to `directory/name.nmea` and starts gpsfake on `port` (a free one when nil), replaying
    /// them once (`loop: false`, gpsd keeps its last fix afterwards) or over and over; returns once gpsd
    /// accepts connections.
    public static func start(
        replaying fixes: [NMEALog.Fix], name: String, in directory: URL, cycle: Double = 0.25, loop: Bool = false,
        port: UInt16? = nil
    ) throws -> GPSFake {
        let log = directory.appendingPathComponent("\(name).nmea")
        try Data(NMEALog.text(fixes).utf8).write(to: log)
        return try start(log: log, cycle: cycle, loop: loop, port: port)
    }

    public static func start(log: URL, cycle: Double = 0.25, loop: Bool = false, port fixedPort: UInt16? = nil) throws
        -> GPSFake
    {
        guard let gpsfake = ["/usr/bin/gpsfake", "/usr/local/bin/gpsfake"].first(where: FileManager.default.isExecutableFile)
        else {
            throw LocalStackError("gpsfake is not installed (Debian: gpsd-clients; scripts/install-deps.sh installs it)")
        }
        var failures: [String] = []
        for _ in 0..<(fixedPort == nil ? 3 : 1) {
            let port = try fixedPort ?? FreePort.next()
            let output = log.deletingPathExtension().appendingPathExtension("gpsfake.log")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            let handle = try FileHandle(forWritingTo: output)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: gpsfake)
            // -q: no progress lines; -1: the log once (gpsd keeps the last fix); -n is gpsd's default here.
            process.arguments = ["-P", "\(port)", "-c", "\(cycle)", "-q"] + (loop ? [] : ["-1"]) + [log.path]
            process.standardOutput = handle
            process.standardError = handle
            process.currentDirectoryURL = log.deletingLastPathComponent()
            var environment = ProcessInfo.processInfo.environment
            // gpsfake's control socket goes to TMPDIR: the log's directory, removed with it.
            environment["TMPDIR"] = log.deletingLastPathComponent().path
            process.environment = environment
            try process.run()
            try? handle.close()
            let deadline = ContinuousClock.now + startTimeout
            while ContinuousClock.now < deadline, process.isRunning, !ChildProcess.acceptsConnections(port: port) {
                usleep(50_000)
            }
            if process.isRunning, ChildProcess.acceptsConnections(port: port) {
                return GPSFake(port: port, log: log, process: process, daemon: children(of: process.processIdentifier).first)
            }
            if process.isRunning { _ = ChildProcess.send(SIGKILL, to: process.processIdentifier) }
            _ = ChildProcess.waitForExit(process, timeout: .seconds(5))
            failures.append("port \(port): \(ChildProcess.tail(of: output, lines: 5))")
        }
        throw LocalStackError("gpsfake did not start:\n" + failures.joined(separator: "\n"))
    }

    /// Stops gpsfake (SIGTERM: its handler stops its gpsd, but gpsfake itself may linger in its replay loop,
    /// so SIGKILL follows soon), then its gpsd by pid if it is still there.
    public func stop() {
        if process.isRunning {
            _ = ChildProcess.send(SIGTERM, to: process.processIdentifier)
            if !ChildProcess.waitForExit(process, timeout: .seconds(1)) {
                _ = ChildProcess.send(SIGKILL, to: process.processIdentifier)
                _ = ChildProcess.waitForExit(process, timeout: .seconds(5))
            }
        }
        if let daemon, Self.isRunning(daemon, child: "gpsd") {
            _ = ChildProcess.send(SIGKILL, to: daemon)
        }
    }

    deinit {
        stop()
    }

    /// The pids whose parent is `pid` (gpsfake has one: its gpsd).
    private static func children(of pid: pid_t) -> [pid_t] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else {
            return []
        }
        return text.split(separator: " ").compactMap { pid_t($0) }
    }

    /// Whether `pid` still runs the program named `child` (and not a process that reused the pid).
    private static func isRunning(_ pid: pid_t, child: String) -> Bool {
        guard let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        return name.trimmingCharacters(in: .whitespacesAndNewlines) == child
    }
}
