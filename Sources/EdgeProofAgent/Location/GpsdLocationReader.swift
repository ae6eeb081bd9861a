import EdgeProofCore
import Foundation
import Logging
import Synchronization

/// The agent's position from gpsd: a thread of its own keeps a connection to gpsd's JSON socket, asks for
/// reports (`?WATCH={"enable":true,"json":true}`), and feeds every line to a ``GNSSFixTracker``; signing
/// reads ``geolocation`` without waiting. gpsd gone: it reconnects with backoff (1 s doubling to 30 s)
/// while the agent goes on signing its last fix, whose age shows.
public final class GpsdLocationReader: Sendable {
    public let host: String
    public let port: Int
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)
    private let logger: Logger

    private struct State {
        var tracker = GNSSFixTracker()
        var connected = false
        var reconnects = 0
    }

    public init(host: String, port: Int, logger: Logger) {
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// Starts the reading thread; ``stop()`` ends it within a second.
    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "edgeproof.gpsd"
        thread.start()
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    /// What to sign now.
    public var geolocation: Geolocation { state.withLock { $0.tracker.geolocation } }

    /// Whether a gpsd connection is up, and how many times it was made again.
    public var connection: (connected: Bool, reconnects: Int) { state.withLock { ($0.connected, $0.reconnects) } }

    private func run() {
        var backoff = 1.0
        var attempts = 0
        while !stopped.load(ordering: .relaxed) {
            do throws(LineSocket.Failure) {
                let socket = try LineSocket(host: host, port: port, timeout: .seconds(1))
                try socket.send(#"?WATCH={"enable":true,"json":true}"# + "\n")
                state.withLock {
                    $0.connected = true
                    if attempts > 0 { $0.reconnects += 1 }
                }
                attempts += 1
                backoff = 1
                logger.info("connected to gpsd", metadata: ["gpsd": "\(host):\(port)"])
                while !stopped.load(ordering: .relaxed) {
                    guard let line = try socket.readLine(maximumBytes: GpsdReport.maximumLineBytes) else { continue }
                    guard let report = GpsdReport(line: line) else { continue }
                    let now = Date()
                    state.withLock { $0.tracker.receive(report, at: now) }
                }
            } catch {
                let wasConnected = state.withLock { state in
                    defer { state.connected = false }
                    return state.connected
                }
                if wasConnected || attempts == 0 {
                    logger.warning(
                        "gpsd unavailable; signing the last fix until it is back",
                        metadata: ["gpsd": "\(host):\(port)", "error": "\(error)"])
                }
                if attempts == 0 { attempts = 1 }
            }
            let deadline = Date().addingTimeInterval(backoff)
            while !stopped.load(ordering: .relaxed), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            backoff = min(backoff * 2, 30)
        }
        state.withLock { $0.connected = false }
    }
}
