import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

@Suite("Publishing and receiving in batches")
struct MQTTBatchTests {
    @Test("publish(contentsOf:) reports each message: published, invalid topic, refused by the ACL, QoS 0")
    func reportsEachMessageOfABatch() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "gateway"])
        defer { broker.close() }
        let gateway = try await broker.connectedClient("gateway")
        let inbox = Inbox(gateway)
        try await gateway.subscribe("\(prefix)/agents/+/metrics")
        let agent = try await broker.connectedClient("agent-001")

        let results = try await agent.publish(contentsOf: [
            MQTTMessage(topic: "\(prefix)/agents/agent-001/metrics", payload: Data("one".utf8)),
            MQTTMessage(topic: "\(prefix)/agents/+/metrics", payload: Data("wildcard".utf8)),
            MQTTMessage(topic: "\(prefix)/agents/agent-002/metrics", payload: Data("foreign".utf8)),
            MQTTMessage(topic: "\(prefix)/agents/agent-001/metrics", payload: Data("two".utf8), qos: .atMostOnce),
        ])

        #expect(results.count == 4)
        #expect(results[0] == nil)
        #expect(results[1]?.description.contains("not a valid topic name") == true)
        #expect(results[2]?.reasonCode == 135)
        #expect(results[3] == nil)
        #expect(Set(try await inbox.waitFor(2).map(\.payload)) == [Data("one".utf8), Data("two".utf8)])
        #expect(agent.outstandingPublishes == 0)
        await agent.shutdown()
        await gateway.shutdown()
    }

    @Test("a consumer that fell behind takes everything waiting as one batch, in order")
    func takesTheBacklogAtOnce() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let collector = try await broker.connectedClient("collector-1")
        try await collector.subscribe("\(prefix)/verified/+/metrics")
        let gateway = try await broker.connectedClient("gateway")
        let count = 500
        let results = try await gateway.publish(
            contentsOf: (0..<count).map {
                MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: Data("\($0)".utf8))
            })
        #expect(results.allSatisfy { $0 == nil })

        // Nobody consumed yet: the messages wait in the client.
        #expect(try await Poll.until { collector.messages.waiting == count })
        var received: [MQTTMessage] = []
        var batches = 0
        for await batch in collector.messages.batches {
            #expect(!batch.isEmpty)
            received += batch
            batches += 1
            if received.count >= count { break }
        }
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<count).map(String.init))
        #expect(batches < count / 10, "\(batches) batches for \(count) waiting messages")
        await gateway.shutdown()
        await collector.shutdown()
    }

    @Test("one-by-one iteration leaves what it did not take to the next iterator")
    func leavesTheRestToTheNextIterator() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let collector = try await broker.connectedClient("collector-1")
        try await collector.subscribe("\(prefix)/verified/+/metrics")
        let gateway = try await broker.connectedClient("gateway")
        _ = try await gateway.publish(
            contentsOf: (0..<3).map {
                MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: Data("\($0)".utf8))
            })
        #expect(try await Poll.until { collector.messages.waiting == 3 })

        var first: [Data] = []
        for await message in collector.messages {
            first.append(message.payload)
            break
        }
        var rest: [Data] = []
        for await message in collector.messages {
            rest.append(message.payload)
            if rest.count == 2 { break }
        }
        #expect(first == [Data("0".utf8)])
        #expect(rest == [Data("1".utf8), Data("2".utf8)])
        await gateway.shutdown()
        await collector.shutdown()
    }

    @Test("batches end after shutdown, once what arrived before was taken")
    func batchesEndAfterShutdown() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let collector = try await broker.connectedClient("collector-1")
        try await collector.subscribe("\(prefix)/verified/+/metrics")
        let gateway = try await broker.connectedClient("gateway")
        let last = MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: Data("last".utf8))
        try await gateway.publish(last)
        #expect(try await Poll.until { collector.messages.waiting == 1 })
        await collector.shutdown()

        var received: [MQTTMessage] = []
        for await batch in collector.messages.batches { received += batch }
        #expect(received.map(\.payload) == [Data("last".utf8)])
        await gateway.shutdown()
    }
}
