import EdgeProofLocalStack
import EdgeProofMQTT

extension MosquittoBroker {
    /// A client configuration for `identity` (the certificate CN; `clientID` defaults to it), with fast
    /// reconnects for tests.
    public func clientConfiguration(_ identity: String, clientID: String? = nil) -> MQTTConfiguration {
        MQTTConfiguration(
            host: "127.0.0.1", port: Int(port), clientID: clientID ?? identity, caFile: caFile,
            certificateFile: certificate(for: identity), keyFile: key(for: identity), reconnectDelay: 0.05...0.5)
    }
}
