import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

/// Issue 16, item 3: a client given several addresses of one broker (the nodes of a cluster) connects to
/// whichever answers and moves to the next when its node goes away. Two mosquittos with one CA stand in
/// for two nodes here; EjabberdClusterTests does the same against a real ejabberd cluster.
@Suite("Broker failover: a list of addresses", .serialized, .timeLimit(.minutes(2)))
struct BrokerFailoverTests {
    @Test("the second address is used when nothing listens on the first")
    func skipsAnAddressThatRefusesConnections() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001"])
        defer { broker.close() }
        let dead = try FreePort.next()
        var configuration = broker.configuration("agent-001", clientID: "agent-001")
        configuration.port = Int(dead)
        configuration.alternateAddresses = [BrokerAddress(host: "127.0.0.1", port: Int(broker.port))]
        let client = try MQTTClient(configuration: configuration, logger: quietLogger)
        client.start()
        defer { Task { await client.shutdown() } }
        try await client.waitUntilConnected(timeout: .seconds(10))
        try await client.publish(
            MQTTMessage(topic: "\(prefix)/agents/agent-001/metrics", payload: Data("{}".utf8), qos: .atLeastOnce))
    }

    @Test("when its node dies, the client reconnects to the next address and its messages arrive there")
    func failsOverWhenTheConnectedNodeDies() async throws {
        let first = try await MosquittoBroker.start(clients: ["agent-001", "gateway"])
        defer { first.close() }
        // The second broker trusts the same CA and presents the same identities, as a cluster's nodes do.
        let secondDirectory = try TemporaryDirectory(prefix: "edgeproof-failover")
        for file in ["ca.crt", "ca.key", "server.crt", "server.key", "agent-001.crt", "agent-001.key",
                     "gateway.crt", "gateway.key"] {
            try FileManager.default.copyItem(at: first.directory.appending(file), to: secondDirectory.appending(file))
        }
        let second = try await MosquittoBroker.start(clients: ["agent-001", "gateway"], directory: secondDirectory)
        defer {
            second.close()
            secondDirectory.remove()
        }
        let listener = try await second.connectedClient("gateway")
        let topic = "\(prefix)/agents/agent-001/metrics"
        let inbox = Inbox(listener)
        try await listener.subscribe("\(prefix)/agents/+/metrics")

        var configuration = first.configuration("agent-001", clientID: "agent-001")
        configuration.alternateAddresses = [BrokerAddress(host: "127.0.0.1", port: Int(second.port))]
        let client = try MQTTClient(configuration: configuration, logger: quietLogger)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(10))
        first.kill()
        try await client.publish(MQTTMessage(topic: topic, payload: Data("after failover".utf8), qos: .atLeastOnce))
        let message = try await inbox.first(timeout: .seconds(10)) { $0.topic == topic }
        #expect(message?.payload == Data("after failover".utf8), "nothing arrived on the second broker")
        await client.shutdown()
        await listener.shutdown()
    }

    @Test("a broker address is host:port or [IPv6]:port; anything else is refused")
    func parsesAddresses() {
        #expect(BrokerAddress(parsing: "127.0.0.1:18883") == BrokerAddress(host: "127.0.0.1", port: 18883))
        #expect(BrokerAddress(parsing: "[::1]:8884") == BrokerAddress(host: "::1", port: 8884))
        #expect(BrokerAddress(parsing: "broker.example") == BrokerAddress(host: "broker.example", port: 8883))
        #expect(BrokerAddress(host: "::1", port: 8884).description == "[::1]:8884")
        for junk in ["", ":8883", "host:0", "host:70000", "host:x", "::1:8883", "[::1", "a b:1"] {
            #expect(BrokerAddress(parsing: junk) == nil, "\(junk) parsed")
        }
    }
}
