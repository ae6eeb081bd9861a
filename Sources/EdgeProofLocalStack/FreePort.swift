import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Free TCP ports on 127.0.0.1, found by binding to port 0. Each call returns ports that were
/// free at the moment of the call; the brief window before the caller binds them is acceptable for the local
/// broker of the demo, benches and tests, and callers retry on a clash.
public enum FreePort {
    public static func next() throws -> UInt16 {
        try next(count: 1)[0]
    }

    /// `count` distinct free ports (all held open until every one is chosen, so they differ).
    public static func next(count: Int) throws -> [UInt16] {
        var sockets = [Int32]()
        defer { sockets.forEach { _ = close($0) } }
        var ports = [UInt16]()
        for _ in 0..<count {
            #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
            #endif
            guard fd >= 0 else { throw LocalStackError("socket() failed: errno \(errno)") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw LocalStackError("bind() failed: errno \(errno)") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { throw LocalStackError("getsockname() failed: errno \(errno)") }
            ports.append(UInt16(bigEndian: address.sin_port))
        }
        return ports
    }
}
