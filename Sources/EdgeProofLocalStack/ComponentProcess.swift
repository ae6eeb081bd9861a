import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An EdgeProof component as a child process, e.g. `edgeproof collector --config FILE`: `edgeproof bench agent`
/// and `edgeproof bench soak` run the real agent, gateway and collector this way to measure their memory, and
/// tests (as `ServiceProcess`) crash (SIGKILL), stop (SIGTERM) and start them again.
///
/// The child is started through scripts/run-service.sh, which `exec`s the program with an empty signal
/// mask (threads of the parent block SIGTERM, and children inherit that) and, through `EDGEPROOF_WATCH_PID`,
/// stops it if the parent process dies first. The script keeps the pid, so signals go to the program's
/// pid only. stdout and stderr of every run are appended to ``logFile``, each run after a header line.
public final class ComponentProcess: Sendable {
    /// A short name for messages and the log file name, e.g. "collector-1".
    public let name: String
    public let executable: String
    public let arguments: [String]
    /// Both output streams of every run, appended.
    public let logFile: URL

    private let environment: [String: String]
    private let state: Mutex<State>

    private struct State {
        var process: Process?
        var runs = 0
        /// How the last run ended, when it was reaped.
        var lastExit: String?
    }

    /// How long ``stop()`` waits after SIGTERM before it sends SIGKILL.
    public static let stopTimeout: Duration = .seconds(15)

    /// Starts `arguments` of `executable` (e.g. this `edgeproof` binary), logging to
    /// `logDirectory/<name>.log`. Returns once the child runs; readiness is the caller's business
    /// (e.g. a retained online status).
    public static func start(
        _ name: String, arguments: [String], logDirectory: URL,
        executable: String, environment: [String: String] = [:]
    ) throws -> ComponentProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw LocalStackError("\(executable) is not an executable (build the package first)")
        }
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        let service = ComponentProcess(
            name: name, executable: executable, arguments: arguments,
            logFile: logDirectory.appendingPathComponent("\(name).log"), environment: environment)
        try service.launch()
        return service
    }

    private init(name: String, executable: String, arguments: [String], logFile: URL, environment: [String: String]) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.logFile = logFile
        self.environment = environment
        self.state = Mutex(State())
    }

    deinit {
        // A safety net for callers that fail before their `defer`: never leave a child running.
        stop()
    }

    /// The pid of the running child, nil when it is not running.
    public var pid: Int32? {
        state.withLock { state in
            guard let running = state.process, running.isRunning else { return nil }
            return running.processIdentifier
        }
    }

    public var isRunning: Bool { pid != nil }

    /// How often the program was started.
    public var runs: Int { state.withLock { $0.runs } }

    // MARK: - Stopping and starting

    /// Crashes the program: SIGKILL to its pid, then waits until it is gone.
    public func kill() {
        state.withLock { state in
            guard let running = state.process else { return }
            state.process = nil
            guard running.isRunning else {
                state.lastExit = Self.describeExit(running)
                return
            }
            _ = ChildProcess.send(SIGKILL, to: running.processIdentifier)
            _ = ChildProcess.waitForExit(running, timeout: .seconds(10))
            state.lastExit = Self.describeExit(running)
        }
    }

    /// Stops the program gracefully: SIGTERM, and SIGKILL to the same pid if it still runs after
    /// `timeout`. Returns false if SIGKILL was needed. Safe to call more than once.
    @discardableResult
    public func stop(timeout: Duration = ComponentProcess.stopTimeout) -> Bool {
        state.withLock { state in
            guard let running = state.process else { return true }
            state.process = nil
            guard running.isRunning else {
                state.lastExit = Self.describeExit(running)
                return true
            }
            let pid = running.processIdentifier
            _ = ChildProcess.send(SIGTERM, to: pid)
            if ChildProcess.waitForExit(running, timeout: timeout) {
                state.lastExit = Self.describeExit(running)
                return true
            }
            let message = "ComponentProcess \(name): pid \(pid) ignored SIGTERM; sending SIGKILL\n"
            FileHandle.standardError.write(Data(message.utf8))
            _ = ChildProcess.send(SIGKILL, to: pid)
            _ = ChildProcess.waitForExit(running, timeout: .seconds(10))
            state.lastExit = Self.describeExit(running)
            return false
        }
    }

    /// Starts the program again with the same arguments; a running one is stopped first (SIGTERM).
    public func restart() throws {
        stop()
        try launch()
    }

    /// Starts the program again after ``kill()`` or ``stop()``; fails if it is running.
    public func start() throws {
        try launch()
    }

    // MARK: - Diagnostics

    /// The last lines of the log (all runs), and how the last run ended.
    public func diagnostics(lines: Int = 40) -> String {
        let (runs, lastExit, running) = state.withLock { state in
            (state.runs, state.lastExit, state.process.map { $0.isRunning } ?? false)
        }
        let status = running ? "running" : "not running (last run: \(lastExit ?? "unknown"))"
        return "\(name): \(runs) runs, \(status); \(logFile.lastPathComponent) (last \(lines) lines):\n"
            + ChildProcess.tail(of: logFile, lines: lines)
    }

    // MARK: - Internals

    private func launch() throws {
        try state.withLock { state throws(LocalStackError) in
            if let running = state.process, running.isRunning {
                throw LocalStackError("\(name) is already running (pid \(running.processIdentifier))")
            }
            state.runs += 1
            // O_APPEND: every run (and a late writer of an earlier one) adds to the end.
            let descriptor = open(logFile.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw LocalStackError("cannot open \(logFile.path): errno \(errno)")
            }
            let output = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            defer { try? output.close() }  // the child has its own copy
            let header = "=== run \(state.runs) at \(Date()): \(([executable] + arguments).joined(separator: " "))\n"
            output.write(Data(header.utf8))

            let child = Process()
            child.executableURL = URL(fileURLWithPath: PackagePaths.script("scripts/run-service.sh"))
            child.arguments = [executable] + arguments
            child.environment = ProcessInfo.processInfo.environment
                .merging(environment) { _, new in new }
                .merging(["EDGEPROOF_WATCH_PID": "\(getpid())"]) { _, new in new }
            child.standardInput = FileHandle.nullDevice
            child.standardOutput = output
            child.standardError = output
            do {
                try child.run()
            } catch {
                throw LocalStackError("cannot run scripts/run-service.sh for \(name): \(error)")
            }
            state.process = child
        }
    }

    private static func describeExit(_ process: Process) -> String {
        guard !process.isRunning else { return "still running" }
        switch process.terminationReason {
        case .exit: return "exit \(process.terminationStatus)"
        case .uncaughtSignal: return "signal \(process.terminationStatus)"
        @unknown default: return "status \(process.terminationStatus)"
        }
    }
}
