@testable import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Synchronization
import Testing

/// Issue 16, item 1: the client reads the CONNACK's capabilities and adapts to them.
@Suite("Broker capabilities from the CONNACK")
struct BrokerCapabilitiesTests {
    @Test("mosquitto announces its Receive Maximum and Maximum Packet Size, and shared subscriptions")
    func mosquittoAnnouncesItsLimits() async throws {
        let broker = try await MosquittoBroker.start(clients: ["collector-1"])
        defer { broker.close() }
        let client = try await broker.connectedClient("collector-1") { $0.maximumPendingPublishes = 5000 }
        let capabilities = try #require(client.brokerCapabilities)
        // broker/mosquitto.conf: max_inflight_messages 1000, max_packet_size 1048576.
        #expect(capabilities.receiveMaximum == 1000)
        #expect(capabilities.maximumPacketSize == 1_048_576)
        #expect(capabilities.sharedSubscriptionAvailable)
        await client.shutdown()
    }

    @Test("without shared subscriptions, $share/ filters are subscribed plainly and renewed so; Receive Maximum lowers the bound")
    func sessionAdaptsToABrokerWithoutSharedSubscriptions() {
        let changes = Changes()
        let session = MQTTSession(maximumPendingPublishes: 1000) { changes.add($0) }
        session.state.withLock { $0.subscriptions["$share/collectors/edgeproof/v1/verified/+/nonce/request"] = .atLeastOnce }
        var capabilities = BrokerCapabilities()
        capabilities.sharedSubscriptionAvailable = false
        capabilities.receiveMaximum = 1
        let renew = session.didConnect(reasonCode: 0, sessionPresent: false, capabilities: capabilities)
        #expect(renew.map(\.filter) == ["edgeproof/v1/verified/+/nonce/request"])
        #expect(session.effectiveFilter("$share/g/a/b") == "a/b")
        #expect(session.effectiveFilter("a/b") == "a/b")
        #expect(session.currentMaximumOutstanding == 1)
        // Reported once, however often the broker says it again.
        _ = session.didConnect(reasonCode: 0, sessionPresent: true, capabilities: capabilities)
        #expect(changes.adaptations.count == 2)
        #expect(changes.adaptations.contains { $0.contains("no shared subscriptions") })
    }

    @Test("a broker with shared subscriptions keeps the filter as given")
    func sharedFiltersStayWhereAvailable() {
        let session = MQTTSession(maximumPendingPublishes: 10) { _ in }
        _ = session.didConnect(reasonCode: 0, sessionPresent: false, capabilities: BrokerCapabilities())
        #expect(session.effectiveFilter("$share/g/a/b") == "$share/g/a/b")
        #expect(session.currentMaximumOutstanding == 10)
    }
}

@Suite("The MQTT user name")
struct MQTTUsernameTests {
    @Test("the client id (the certificate's CN) goes as the user name unless send_username is false")
    func usernameFollowsTheSwitch() throws {
        let yaml = #"{"ca_file": "ca.crt", "cert_file": "a.crt", "key_file": "a.key", "send_username": false}"#
        let quiet = try JSONDecoder().decode(BrokerSettings.self, from: Data(yaml.utf8))
        #expect(quiet.clientConfiguration(clientID: "agent-001").username == nil)
        let settings = BrokerSettings(caFile: "ca.crt", certificateFile: "a.crt", keyFile: "a.key")
        #expect(settings.clientConfiguration(clientID: "agent-001").username == "agent-001")
    }

    @Test("mosquitto takes the certificate's CN whatever user name is sent")
    func mosquittoIgnoresTheUsername() async throws {
        let broker = try await MosquittoBroker.start(clients: ["collector-1"])
        defer { broker.close() }
        let client = try await broker.connectedClient("collector-1") { $0.username = "someone-else" }
        // Reads need the collector's rights, which only the CN has.
        _ = try await client.subscribe("\(prefix)/verified/+/metrics")
        await client.shutdown()
    }
}

private final class Changes: Sendable {
    private let seen = Mutex<[String]>([])
    func add(_ change: MQTTSession.ConnectionChange) {
        if case .adapted(let text) = change { seen.withLock { $0.append(text) } }
    }
    var adaptations: [String] { seen.withLock { $0 } }
}
