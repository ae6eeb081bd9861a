import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

@Suite("MQTT sessions, reconnects, back-pressure and volume", .timeLimit(.minutes(10)))
struct MQTTResilienceTests {
    @Test("a persistent session receives what was queued while it was away, across a broker restart")
    func persistentSessionSurvivesBrokerRestart() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let first = try await broker.connectedClient("collector-1", clientID: "collector-1")
        try await first.subscribe("\(prefix)/verified/+/metrics")
        await first.shutdown()

        let gateway = try await broker.connectedClient("gateway")
        for index in 0..<100 {
            try await gateway.publish(MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: Data("\(index)".utf8)))
        }
        await gateway.shutdown()
        try await broker.restart()

        let second = try MQTTClient(configuration: broker.configuration("collector-1", clientID: "collector-1"), logger: quietLogger)
        let inbox = Inbox(second)
        second.start()
        let received = try await inbox.waitFor(100)
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<100).map(String.init))
        await second.shutdown()
    }

    @Test("a client reconnects by itself when the broker comes back, and keeps its subscriptions")
    func reconnectsAfterBrokerReturns() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let collector = try await broker.connectedClient("collector-1", clientID: "collector-1")
        let inbox = Inbox(collector)
        try await collector.subscribe("\(prefix)/verified/+/metrics")
        let gateway = try await broker.connectedClient("gateway", clientID: "gateway")

        broker.kill()
        #expect(try await Poll.until { !collector.isConnected && !gateway.isConnected })
        try await broker.restart()
        try await collector.waitUntilConnected(timeout: .seconds(10))
        try await gateway.waitUntilConnected(timeout: .seconds(10))
        try await gateway.publish(MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: Data("after".utf8)))
        #expect(try await inbox.waitFor(1).first?.payload == Data("after".utf8))
        await gateway.shutdown()
        await collector.shutdown()
    }

    @Test("two connections with one identity: the one taken over backs off instead of fighting, and no subscribe waits forever")
    func sessionTakeoverBacksOffAndSubscribesReturn() async throws {
        let broker = try await MosquittoBroker.start(clients: ["monitor"])
        defer { broker.close() }
        // The broker makes the certificate CN the client id: both are "monitor" whatever they ask for.
        let slowest = 2.0
        let first = try await broker.connectedClient("monitor") { $0.reconnectDelay = 0.05...slowest }
        let second = try await broker.connectedClient("monitor") { $0.reconnectDelay = 0.05...slowest }
        let takeovers = { Self.count(of: "already connected, closing old connection", in: broker.logFile) }
        #expect(try await Poll.until(timeout: .seconds(10)) { takeovers() >= 1 })

        // Each side's backoff grows while its connections do not hold, up to the longest delay: then about
        // one takeover per `slowest` seconds, where reconnecting at once made dozens.
        try await Task.sleep(for: .seconds(slowest * 2))
        let before = takeovers()
        let clock = ContinuousClock()
        let watched = clock.now
        var subscribes = 0
        while clock.now - watched < .seconds(6) {
            for client in [first, second] {
                // A SUBSCRIBE cut off by a takeover before its SUBACK returns (renewed on the next connection).
                _ = try await withTimeout(.seconds(10), "subscribe during a takeover") {
                    try await client.subscribe("edgeproof/v1/status/#")
                }
                subscribes += 1
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let during = takeovers() - before
        #expect(during <= 8, "\(during) takeovers in 6 s: the clients fight over the session")
        #expect(subscribes > 0)
        await first.shutdown()
        await second.shutdown()
    }

    private static func count(of needle: String, in file: URL) -> Int {
        guard let data = try? Data(contentsOf: file) else { return 0 }
        return String(decoding: data, as: UTF8.self).components(separatedBy: needle).count - 1
    }

    @Test(
        "publishes beyond the outgoing bound wait, and all arrive once the broker is back (one by one; one batch)",
        arguments: [false, true])
    func boundsOutgoingQueue(asOneBatch: Bool) async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let collector = try await broker.connectedClient("collector-1", clientID: "collector-1")
        let inbox = Inbox(collector)
        try await collector.subscribe("\(prefix)/verified/+/metrics")
        let gateway = try await broker.connectedClient("gateway", clientID: "gateway") { $0.maximumPendingPublishes = 5 }
        let messages = (0..<20).map {
            MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: Data("\($0)".utf8))
        }

        broker.stop()
        #expect(try await Poll.until { !gateway.isConnected })
        let publishing = Task {
            if asOneBatch {
                let results = try await gateway.publish(contentsOf: messages)
                #expect(results.count == 20 && results.allSatisfy { $0 == nil })
                return
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for message in messages { group.addTask { try await gateway.publish(message) } }
                try await group.waitForAll()
            }
        }
        #expect(try await Poll.until { gateway.outstandingPublishes == 5 })
        try await Task.sleep(for: .milliseconds(200))
        #expect(gateway.outstandingPublishes == 5)

        try await broker.restart()
        try await publishing.value
        #expect(gateway.outstandingPublishes == 0)
        let received = try await inbox.waitFor(20)
        #expect(Set(received.map(\.payload)).count == 20)
        await gateway.shutdown()
        await collector.shutdown()
    }

    @Test("10,000 QoS 1 messages arrive complete and in order")
    func deliversTenThousandInOrder() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let collector = try await broker.connectedClient("collector-1")
        let inbox = Inbox(collector)
        try await collector.subscribe("\(prefix)/verified/+/metrics")
        let gateway = try await broker.connectedClient("gateway")
        let count = 10_000
        for index in 0..<count {
            try await gateway.publish(MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: Data("\(index)".utf8)))
        }
        let received = try await inbox.waitFor(count, timeout: .seconds(60))
        #expect(received.count == count)
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<count).map(String.init))
        await gateway.shutdown()
        await collector.shutdown()
    }

    @Test("after shutdown, calls fail with a clear error instead of hanging")
    func failsAfterShutdown() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway"])
        defer { broker.close() }
        let gateway = try await broker.connectedClient("gateway")
        await gateway.shutdown()
        await #expect(throws: MQTTError.self) {
            try await gateway.publish(MQTTMessage(topic: "\(prefix)/verified/a/metrics", payload: Data()))
        }
    }
}
