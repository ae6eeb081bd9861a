import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the types that run child processes (``MosquittoBroker``, ``ComponentProcess``) share:
/// signals by pid only, waiting for an exit, the end of a log.
enum ChildProcess {
    /// Sends `signal` to `pid` (never to a group or to 0); false if it could not be sent.
    static func send(_ signal: Int32, to pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, signal) == 0
    }

    /// Polls until `process` has exited (Foundation reaps it); false on timeout.
    static func waitForExit(_ process: Process, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// The last `lines` lines of `file`, or a note that it is missing.
    static func tail(of file: URL, lines: Int) -> String {
        guard let data = try? Data(contentsOf: file) else { return "(no \(file.lastPathComponent))" }
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
