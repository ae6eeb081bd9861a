import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mosquitto broker of its own for `edgeproof demo`, one `edgeproof bench` run or one test: mutual TLS (client
/// certificates, dynamic security ACL) on a free port of 127.0.0.1,
/// certificates from broker/gen-certs.sh, configuration and ACL from broker/run-broker.sh, state in a
/// temporary directory. Always ``close()`` it (`defer { broker.close() }`); ``stop()`` alone keeps the
/// directory so that ``restart()`` finds its persistence again.
///
/// The child process is run-broker.sh, which `exec`s mosquitto, so the pid the fixture holds is the
/// broker's: signals go to that pid only. run-broker.sh starts mosquitto with an empty signal mask (test
/// threads block SIGTERM and SIGHUP, and children inherit that) and, through `EDGEPROOF_BROKER_WATCH_PID`,
/// stops it if the process that started it dies first (a crash, or a broker that is never deinitialized).
public final class MosquittoBroker: Sendable {
    /// The TLS port on 127.0.0.1.
    public let port: UInt16
    /// Certificates, rendered configuration, `data/` (persistence) and `mosquitto.log`.
    public let directory: TemporaryDirectory
    /// The client names certificates were made for at start.
    public let clients: [String]
    /// Whose rules the broker runs: the central broker's (broker/acl) or a site's (broker/acl-site).
    public let profile: Profile

    /// The access rules a broker runs (`run-broker.sh --profile`).
    public enum Profile: String, Sendable {
        /// Gateways, collectors, registrars and site bridges: broker/acl.
        case central
        /// A site's agents and its bridging gateway: broker/acl-site.
        case site
    }

    private let ownsDirectory: Bool
    private let process: Mutex<Process?>

    /// How long ``start(clients:directory:port:)`` and ``restart()`` wait for the listener. run-broker.sh
    /// checks every certificate with openssl first, which takes seconds on a loaded 2-core machine.
    public static let startTimeout: Duration = .seconds(30)
    /// How long ``stop()`` waits after SIGTERM before it sends SIGKILL.
    public static let stopTimeout: Duration = .seconds(10)

    private init(
        port: UInt16, directory: TemporaryDirectory, clients: [String], profile: Profile, ownsDirectory: Bool
    ) {
        self.port = port
        self.directory = directory
        self.clients = clients
        self.profile = profile
        self.ownsDirectory = ownsDirectory
        self.process = Mutex(nil)
    }

    deinit {
        // A safety net for callers that fail before their `defer`: never leave a broker running.
        stop()
    }

    // MARK: - Starting

    /// Makes certificates for `clients` (plus CA and broker certificate), then starts mosquitto and waits
    /// until it accepts connections. Without `port`, a free port is chosen, and up to three are tried.
    /// Without `directory`, a new temporary directory is made (and removed by ``close()``).
    /// `fleet`: agents whose certificates are issued in this process (``ClientCertificateIssuer``), for
    /// benches with thousands of them; they are clients of the broker like the others.
    public static func start(
        clients: [String], fleet: [String] = [], directory: TemporaryDirectory? = nil, port: UInt16? = nil,
        profile: Profile = .central
    ) throws -> MosquittoBroker {
        let ownsDirectory = directory == nil
        let directory = try directory ?? TemporaryDirectory(prefix: "edgeproof-mosquitto")
        do {
            try generateCertificates(clients, in: directory)
            if !fleet.isEmpty { try ClientCertificateIssuer(directory: directory.url).issue(fleet) }
            var failures = [String]()
            for _ in 0..<(port == nil ? 3 : 1) {
                let candidate = try port ?? FreePort.next()
                let broker = MosquittoBroker(
                    port: candidate, directory: directory, clients: clients + fleet, profile: profile,
                    ownsDirectory: ownsDirectory)
                do {
                    try broker.launch()
                    return broker
                } catch {
                    failures.append("port \(candidate): \(error)")
                }
            }
            throw LocalStackError("mosquitto did not start:\n" + failures.joined(separator: "\n"))
        } catch {
            if ownsDirectory { directory.remove() }
            throw error
        }
    }

    /// Starts mosquitto again on the same port and directory (after ``stop()`` or ``kill()``; a running
    /// broker is stopped first), so persisted sessions, queued messages and retained status are reloaded.
    public func restart() throws {
        stop()
        try launch()
    }

    /// Makes certificates for more clients and, while the broker runs, adds them to it without a restart
    /// (broker/add-clients.sh: the dynamic security plugin's control topic, as broker-admin).
    public func addClients(_ names: [String]) throws {
        guard isRunning else {
            try Self.generateCertificates(names, in: directory)  // the next restart() renders and loads them
            return
        }
        let result = try ProcessRunner.run(
            PackagePaths.script("broker/add-clients.sh"), [directory.path, "\(port)"] + names)
        guard result.status == 0 else {
            throw LocalStackError("broker/add-clients.sh \(names) exited \(result.status): \(result.standardError)")
        }
    }

    // MARK: - Stopping

    /// Stops the broker: SIGTERM (mosquitto saves its database and exits), SIGKILL to the same pid if it
    /// is still running after ``stopTimeout``. Keeps the directory. Safe to call more than once.
    public func stop() {
        process.withLock { current in
            guard let running = current else { return }
            current = nil
            guard running.isRunning else { return }
            let pid = running.processIdentifier
            _ = ChildProcess.send(SIGTERM, to: pid)
            if ChildProcess.waitForExit(running, timeout: Self.stopTimeout) { return }
            FileHandle.standardError.write(Data("MosquittoBroker: pid \(pid) ignored SIGTERM; sending SIGKILL\n".utf8))
            _ = ChildProcess.send(SIGKILL, to: pid)
            _ = ChildProcess.waitForExit(running, timeout: .seconds(5))
        }
    }

    /// Crashes the broker: SIGKILL, no final save (whatever arrived after the last autosave, at most
    /// 5 s earlier, is lost). Waits until the process is gone. ``restart()`` brings it back.
    public func kill() {
        process.withLock { current in
            guard let running = current else { return }
            current = nil
            guard running.isRunning else { return }
            _ = ChildProcess.send(SIGKILL, to: running.processIdentifier)
            _ = ChildProcess.waitForExit(running, timeout: .seconds(5))
        }
    }

    /// Stops the broker and removes its directory if ``start(clients:directory:port:)`` made it.
    public func close() {
        stop()
        if ownsDirectory { directory.remove() }
    }

    // MARK: - For clients

    /// The directory with `ca.crt`, `server.crt` and `NAME.crt`/`NAME.key` per client.
    public var certificateDirectory: URL { directory.url }
    /// The CA that signed the broker's and every client's certificate.
    public var caFile: String { directory.appending("ca.crt").path }
    /// The client certificate (PEM) for `name`, whose CN is `name`.
    public func certificate(for name: String) -> String { directory.appending("\(name).crt").path }
    /// The unencrypted private key (PEM) for `name`.
    public func key(for name: String) -> String { directory.appending("\(name).key").path }

    /// mosquitto's log (appended to across restarts).
    public var logFile: URL { directory.appending("mosquitto.log") }
    /// The pid of the running broker, nil when it is not running.
    public var pid: Int32? {
        process.withLock { current in
            guard let running = current, running.isRunning else { return nil }
            return running.processIdentifier
        }
    }
    public var isRunning: Bool { pid != nil }

    /// The last lines of mosquitto.log and of the current run's stderr, for failure messages.
    public func diagnostics(lines: Int = 30) -> String {
        "mosquitto.log (last \(lines) lines):\n\(ChildProcess.tail(of: logFile, lines: lines))\n"
            + "stderr of the last run:\n\(ChildProcess.tail(of: stderrFile, lines: lines))"
    }

    // MARK: - Internals

    /// stdout and stderr of the current run (run-broker.sh errors, config errors, the log).
    private var stderrFile: URL { directory.appending("mosquitto.stderr") }

    private static func generateCertificates(_ names: [String], in directory: TemporaryDirectory) throws {
        let result = try ProcessRunner.run(PackagePaths.script("broker/gen-certs.sh"), [directory.path] + names)
        guard result.status == 0 else {
            throw LocalStackError("gen-certs.sh failed (exit \(result.status)): \(result.standardError)")
        }
    }

    /// Starts run-broker.sh (which becomes mosquitto) and waits until mosquitto reports it is running
    /// and the port accepts TCP connections. On failure the process is killed and the error carries the logs.
    private func launch() throws {
        try process.withLock { current throws(LocalStackError) in
            if let running = current, running.isRunning {
                throw LocalStackError("mosquitto is already running (pid \(running.processIdentifier))")
            }
            _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)  // truncates
            let output: FileHandle
            do {
                output = try FileHandle(forWritingTo: stderrFile)
            } catch {
                throw LocalStackError("cannot open \(stderrFile.path): \(error)")
            }
            defer { try? output.close() }  // the child has its own copy

            let child = Process()
            child.executableURL = URL(fileURLWithPath: PackagePaths.script("broker/run-broker.sh"))
            child.arguments = ["--profile", profile.rawValue, directory.path, "\(port)"]
            // run-broker.sh stops this broker if the test process dies without stopping it.
            child.environment = ProcessInfo.processInfo.environment.merging(
                ["EDGEPROOF_BROKER_WATCH_PID": "\(getpid())"]) { _, new in new }
            child.standardInput = FileHandle.nullDevice
            child.standardOutput = output
            child.standardError = output
            do {
                try child.run()
            } catch {
                throw LocalStackError("cannot run broker/run-broker.sh: \(error)")
            }

            let deadline = ContinuousClock.now + Self.startTimeout
            while true {
                if !child.isRunning {
                    throw LocalStackError(
                        "mosquitto exited with status \(child.terminationStatus) while starting on port \(port)\n"
                            + diagnostics())
                }
                // "running" is logged after the listener is open: a connect before it could reach
                // another process that holds the port.
                if Self.count(of: " running\n", in: stderrFile) > 0, ChildProcess.acceptsConnections(port: port) {
                    current = child
                    return
                }
                if ContinuousClock.now >= deadline {
                    _ = ChildProcess.send(SIGKILL, to: child.processIdentifier)
                    _ = ChildProcess.waitForExit(child, timeout: .seconds(5))
                    throw LocalStackError(
                        "mosquitto did not accept connections on 127.0.0.1:\(port) within \(Self.startTimeout)\n"
                            + diagnostics())
                }
                usleep(20_000)
            }
        }
    }

    private static func count(of needle: String, in file: URL) -> Int {
        guard let data = try? Data(contentsOf: file) else { return 0 }
        return String(decoding: data, as: UTF8.self).components(separatedBy: needle).count - 1
    }
}
