import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Logging
import Synchronization
import Testing

let prefix = "edgeproof/v1"

extension MosquittoBroker {
    /// A client configuration for `identity` (the certificate CN), with fast reconnects for tests.
    func configuration(_ identity: String, clientID: String? = nil) -> MQTTConfiguration {
        MQTTConfiguration(
            host: "127.0.0.1", port: Int(port), clientID: clientID ?? "\(identity)-\(UUID().uuidString.prefix(8))",
            caFile: caFile, certificateFile: certificate(for: identity), keyFile: key(for: identity),
            reconnectDelay: 0.05...0.5)
    }

    /// A started, connected client; `adjust` changes its configuration first.
    func connectedClient(
        _ identity: String, clientID: String? = nil, adjust: (inout MQTTConfiguration) -> Void = { _ in }
    ) async throws -> MQTTClient {
        var configuration = configuration(identity, clientID: clientID)
        adjust(&configuration)
        let client = try MQTTClient(configuration: configuration, logger: quietLogger)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(10))
        return client
    }
}

/// Collects everything a client receives, from one long-lived consumer of its message stream.
final class Inbox: Sendable {
    private let received = Mutex<[MQTTMessage]>([])

    init(_ client: MQTTClient) {
        let messages = client.messages
        Task { [weak self] in
            for await message in messages { self?.received.withLock { $0.append(message) } }
        }
    }

    var messages: [MQTTMessage] { received.withLock { $0 } }

    /// Waits until at least `count` messages arrived, or `timeout` passed; returns what arrived.
    @discardableResult
    func waitFor(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [MQTTMessage] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = messages
            if current.count >= count { return current }
            try await Task.sleep(for: .milliseconds(10))
        }
        return messages
    }
}

/// Waits until `condition` holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Tests expect refused connections and broker restarts; only errors are worth printing.
let quietLogger: Logger = {
    var logger = Logger(label: "edgeproof.mqtt.test")
    logger.logLevel = .error
    return logger
}()
