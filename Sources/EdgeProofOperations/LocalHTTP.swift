import EdgeProofMQTT
import FlyingFox
import FlyingSocks
import Foundation

/// One HTTP/1.1 request to a service on this machine (an operations endpoint, an agent's OTLP receiver), for
/// the demo, the benches and the tests.
///
/// Not URLSession: on Linux it waits for its sockets in select(2), which cannot watch a descriptor numbered
/// 1024 or above; in a process holding many connections its requests then never end, not even at their
/// timeout. FlyingFox's client waits in epoll; the whole exchange is bounded by `timeout`.
public enum LocalHTTP {
    public struct Response: Sendable {
        public let status: Int
        public let body: Data
        public let headers: [String: String]

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// `method` `path` at `address` (`HOST:PORT`, an IPv4 address).
    public static func send(
        _ method: String = "GET", to address: String, path: String, body: Data = Data(), headers: [String: String] = [:],
        timeout: Duration = .seconds(15)
    ) async throws -> Response {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw OperationsEndpointError("\(address) is not HOST:PORT")
        }
        let socketAddress = try sockaddr_in.inet(ip4: String(address[..<colon]), port: port)
        var fields: [HTTPHeader: String] = [HTTPHeader("Connection"): "close"]
        for (name, value) in headers { fields[HTTPHeader(name)] = value }
        let request = HTTPRequest(
            method: HTTPMethod(method), version: .http11, path: path, query: [], headers: fields, body: body)
        return try await withTimeout(timeout, "\(method) http://\(address)\(path)") {
            var client = HTTPClient()
            let response = try await client.sendHTTPRequest(request, to: socketAddress)
            let data = try await response.bodyData
            var headers: [String: String] = [:]
            for (name, value) in response.headers { headers[name.rawValue.lowercased()] = value }
            return Response(status: response.statusCode.code, body: data, headers: headers)
        }
    }
}
