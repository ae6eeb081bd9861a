import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking TCP client that reads newline-delimited text: the agent's only socket code (gpsd's JSON
/// protocol). Each call blocks at most `timeout`; it is used from a thread of its own, never from the
/// concurrency pool.
final class LineSocket {
    private let descriptor: Int32
    private var buffer = Data()
    /// Skipping the rest of a line that was too long.
    private var discarding = false

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects to `host`:`port` (names resolved, IPv4 or IPv6), giving up after `timeout`.
    init(host: String, port: Int, timeout: Duration) throws(Failure) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var problem = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            Self.setTimeout(fd, timeout)
            if connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
                descriptor = fd
                return
            }
            problem = String(cString: strerror(errno))
            close(fd)
        }
        throw Failure(description: "cannot connect to \(host):\(port): \(problem)")
    }

    deinit {
        close(descriptor)
    }

    func send(_ text: String) throws(Failure) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                #if canImport(Glibc)
                return Glibc.send(descriptor, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                #else
                return Darwin.send(descriptor, base + offset, raw.count - offset, 0)
                #endif
            }
            guard written > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    /// The next complete line (without its newline); nil when none arrived within the timeout. Lines longer
    /// than `maximumBytes` are dropped whole. Throws when the peer closed the connection or it failed.
    func readLine(maximumBytes: Int) throws(Failure) -> Data? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                if discarding {
                    discarding = false
                    continue
                }
                return Data(line)
            }
            if buffer.count > maximumBytes {
                buffer.removeAll(keepingCapacity: true)
                discarding = true
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                throw Failure(description: "connection closed by peer")
            } else if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                return nil
            } else {
                throw Failure(description: "recv: \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func setTimeout(_ fd: Int32, _ timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        var value = timeval(tv_sec: Int(seconds), tv_usec: suseconds_t(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }
}
