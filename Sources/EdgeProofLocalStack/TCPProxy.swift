import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP proxy on 127.0.0.1 for network faults a test or bench makes on purpose, on a kernel without
/// the netem qdisc:
/// - `delay`: every chunk of bytes is held that long before it is passed on, in both directions (twice
///   it on every round trip; `bench drain`);
/// - ``pause()``: a link that stops carrying anything without closing (bytes are held, new connections
///   are accepted but not connected onward) until ``resume()``: the half-open outage that only keepalives
///   detect;
/// - ``dropConnections()``: every connection through it is reset (a link that fails loudly);
/// - ``cut()``: that, and new connections are refused until ``restore()`` (a link that is down).
/// Plain sockets on threads: each direction of each connection has a reader, which stamps chunks with
/// their due time, and a writer, which sends them when due (and not paused), in order.
public final class TCPProxy: Sendable {
    public let port: UInt16
    public let delay: Duration
    private let targetPort: UInt16
    private let listener: Int32
    private let closed = Atomic<Bool>(false)
    private let paused = Atomic<Bool>(false)
    private let refusing = Atomic<Bool>(false)
    /// Descriptors of accepted and outgoing connections, closed on ``stop()``.
    private let sockets = Mutex<Set<Int32>>([])

    /// Listens on a free port of 127.0.0.1 and forwards to `127.0.0.1:targetPort`.
    public init(targetPort: UInt16, delay: Duration = .zero) throws {
        self.targetPort = targetPort
        self.delay = delay
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalStackError("proxy: socket: \(String(cString: strerror(errno)))") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw LocalStackError("proxy: bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "edgeproof.proxy.accept"
        thread.start()
    }

    /// Holds every byte and every new connection from now on, without closing anything.
    public func pause() {
        paused.store(true, ordering: .relaxed)
    }

    /// Passes on what was held, in order, and carries traffic again.
    public func resume() {
        paused.store(false, ordering: .relaxed)
    }

    public var isPaused: Bool { paused.load(ordering: .relaxed) }

    /// Resets every connection through the proxy; new ones are accepted as before.
    public func dropConnections() {
        for fd in sockets.withLock({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Resets every connection and refuses new ones (accepted and closed at once) until ``restore()``.
    public func cut() {
        refusing.store(true, ordering: .relaxed)
        dropConnections()
    }

    /// Accepts and carries connections again after ``cut()``.
    public func restore() {
        refusing.store(false, ordering: .relaxed)
    }

    /// Stops accepting and closes every connection.
    public func stop() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in sockets.withLock({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while !closed.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            if refusing.load(ordering: .relaxed) {
                close(client)
                continue
            }
            while paused.load(ordering: .relaxed), !closed.load(ordering: .relaxed) { usleep(10_000) }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard upstream >= 0, connected == 0 else {
                close(client)
                if upstream >= 0 { close(upstream) }
                continue
            }
            for fd in [client, upstream] {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            sockets.withLock { $0.formUnion([client, upstream]) }
            let done = Countdown()
            // Each descriptor is closed once both directions have ended.
            let finish: @Sendable () -> Void = { [self] in
                guard done.value.add(1, ordering: .acquiringAndReleasing).newValue == 2 else { return }
                sockets.withLock { $0.subtract([client, upstream]) }
                close(client)
                close(upstream)
            }
            startDirection(from: client, to: upstream, finish)
            startDirection(from: upstream, to: client, finish)
        }
    }

    /// Both directions of a connection count here as they end.
    private final class Countdown: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Chunks read from `source`, each with the time it may be written to `destination`.
    private final class DelayLine: Sendable {
        let queue = Mutex<(chunks: [(due: ContinuousClock.Instant, bytes: [UInt8])], ended: Bool)>(([], false))
        let available = DispatchSemaphore(value: 0)
    }

    private func startDirection(from source: Int32, to destination: Int32, _ finish: @escaping @Sendable () -> Void) {
        let line = DelayLine()
        let delay = delay
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                let due = ContinuousClock.now + delay
                line.queue.withLock { state in
                    if count > 0 {
                        state.chunks.append((due, Array(buffer[..<count])))
                    } else {
                        state.ended = true
                    }
                }
                line.available.signal()
                if count <= 0 { return }
            }
        }
        let writer = Thread {
            defer {
                shutdown(destination, Int32(SHUT_WR))
                finish()
            }
            while true {
                line.available.wait()
                let next = line.queue.withLock { state -> (due: ContinuousClock.Instant, bytes: [UInt8])?? in
                    if state.chunks.isEmpty { return state.ended ? .some(nil) : nil }
                    return .some(state.chunks.removeFirst())
                }
                guard let item = next else { continue }
                guard let chunk = item else { return }
                let bytes = chunk.bytes
                let wait = chunk.due - ContinuousClock.now
                if wait > .zero { Thread.sleep(forTimeInterval: Self.seconds(wait)) }
                while self.paused.load(ordering: .relaxed), !self.closed.load(ordering: .relaxed) { usleep(10_000) }
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if written < 0 {
                        if errno == EINTR { continue }
                        shutdown(source, Int32(SHUT_RDWR))
                        return
                    }
                    offset += written
                }
            }
        }
        reader.name = "edgeproof.proxy.read"
        writer.name = "edgeproof.proxy.write"
        reader.start()
        writer.start()
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
