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
        clientConfiguration(identity, clientID: clientID ?? "\(identity)-\(UUID().uuidString.prefix(8))")
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

/// Tests expect refused connections and broker restarts; only errors are worth printing.
let quietLogger: Logger = {
    var logger = Logger(label: "edgeproof.mqtt.test")
    logger.logLevel = .error
    return logger
}()
