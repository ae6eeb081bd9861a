import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Synchronization
import Testing

/// mosquitto 2.0.11 answers a QoS 1 PUBLISH to a topic the client may not write with PUBACK reason 135
/// and then closes the connection. That must cost exactly the refused message: everything else in
/// flight on that connection completes once, waits survive, and the client reconnects by itself.
@Suite("A refused publish (PUBACK 135, then the broker closes the connection)", .serialized)
struct MQTTRefusalTests {
    struct Case: Sendable, CustomStringConvertible {
        let identity: String
        let reader: String
        let allowed: String
        let forbidden: String
        var description: String { identity }
    }

    static let cases = [
        // The agent writes only its own subtree; the gateway only verified/ and rejections.
        Case(
            identity: "agent-001", reader: "gateway", allowed: "\(prefix)/agents/agent-001/metrics",
            forbidden: "\(prefix)/agents/agent-002/metrics"),
        Case(
            identity: "gateway", reader: "collector-1", allowed: "\(prefix)/verified/agent-001/metrics",
            forbidden: "\(prefix)/agents/agent-001/metrics"),
    ]

    @Test(
        "only the forbidden message fails (135); every other in-flight publish arrives exactly once; the client reconnects",
        arguments: cases)
    func refusalCostsOnlyThatMessage(_ scenario: Case) async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "gateway", "collector-1"])
        defer { broker.close() }
        let reader = try await broker.connectedClient(scenario.reader, clientID: scenario.reader)
        let inbox = Inbox(reader)
        try await reader.subscribe(scenario.reader == "gateway" ? "\(prefix)/agents/+/metrics" : "\(prefix)/verified/#")
        let client = try await broker.connectedClient(scenario.identity, clientID: scenario.identity)

        // One batch of 300 with the forbidden message in the middle, and 40 single publishes alongside.
        let batchSize = 300
        let forbiddenIndex = 150
        let batch = (0..<batchSize).map { index in
            MQTTMessage(
                topic: index == forbiddenIndex ? scenario.forbidden : scenario.allowed, payload: Data("b\(index)".utf8))
        }
        let singles = (0..<40).map { MQTTMessage(topic: scenario.allowed, payload: Data("s\($0)".utf8)) }
        let (batchResults, singleResults) = try await withThrowingTaskGroup(of: [MQTTError?].self) { group in
            group.addTask { try await client.publish(contentsOf: batch) }
            for message in singles {
                group.addTask {
                    do {
                        try await client.publish(message)
                        return [nil]
                    } catch let error as MQTTError {
                        return [error]
                    }
                }
            }
            var batchResults: [MQTTError?] = []
            var singleResults: [MQTTError?] = []
            for try await results in group {
                if results.count == batchSize { batchResults = results } else { singleResults += results }
            }
            return (batchResults, singleResults)
        }

        #expect(batchResults.count == batchSize)
        #expect(batchResults[forbiddenIndex]?.reasonCode == 135, "\(String(describing: batchResults[forbiddenIndex]))")
        let otherFailures = batchResults.enumerated().filter { $0.offset != forbiddenIndex && $0.element != nil }
        #expect(otherFailures.isEmpty, "\(otherFailures.prefix(3))")
        #expect(singleResults.count == singles.count && singleResults.allSatisfy { $0 == nil }, "\(singleResults)")

        // At the subscriber: every other message, not the forbidden one. Not exactly once: mosquitto 2.0.11
        // drops the connection without sending the PUBACKs of messages it already delivered, so libmosquitto
        // resends them after reconnecting (QoS 1 is at least once; receivers deduplicate, the collector by
        // nonce). Measured here: 47 to 188 of 339 duplicated. Each publish call still completes exactly once.
        let expected = batchSize - 1 + singles.count
        let wanted = Set((0..<batchSize).filter { $0 != forbiddenIndex }.map { "b\($0)" } + (0..<singles.count).map { "s\($0)" })
        // Counting messages would stop early on duplicates: wait until every wanted payload is there.
        func received() -> Set<String> { Set(inbox.messages.map { String(decoding: $0.payload, as: UTF8.self) }) }
        _ = try await Poll.until(timeout: .seconds(15)) { received().isSuperset(of: wanted) }
        let payloads = inbox.messages.map { String(decoding: $0.payload, as: UTF8.self) }
        var counts: [String: Int] = [:]
        for payload in payloads { counts[payload, default: 0] += 1 }
        #expect(Set(counts.keys) == wanted, "missing: \(wanted.subtracting(counts.keys).sorted().prefix(5))")
        print("MQTTRefusalTests \(scenario.identity): \(payloads.count - expected) of \(expected) delivered twice or more")
        #expect(client.outstandingPublishes == 0)

        // The broker did close the connection, and the client came back and keeps working.
        let log = String(decoding: (try? Data(contentsOf: broker.logFile)) ?? Data(), as: UTF8.self)
        let connects = log.components(separatedBy: "as \(scenario.identity) (").count - 1
        #expect(connects >= 2, "expected a reconnect of \(scenario.identity)\n\(broker.diagnostics())")
        try await client.waitUntilConnected(timeout: .seconds(10))
        try await client.publish(MQTTMessage(topic: scenario.allowed, payload: Data("after".utf8)))
        #expect(try await Poll.until { inbox.messages.contains { $0.payload == Data("after".utf8) } })

        await client.shutdown()
        await reader.shutdown()
    }

    @Test("a request waiting for its response and the subscriptions survive the reconnect after a refusal")
    func pendingRequestSurvivesRefusal() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "gateway", "collector-1"])
        defer { broker.close() }
        let gateway = try await broker.connectedClient("gateway", clientID: "gateway")
        let requests = Inbox(gateway)
        try await gateway.subscribe("\(prefix)/agents/+/nonce/request")
        let collector = try await broker.connectedClient("collector-1", clientID: "collector-1")
        let agent = try await broker.connectedClient("agent-001", clientID: "agent-001")
        let receipts = Inbox(agent)
        let responseTopic = "\(prefix)/agents/agent-001/nonce/response"
        try await agent.subscribe("\(prefix)/agents/agent-001/receipts")

        let requesting = Task {
            try await agent.request(
                MQTTMessage(
                    topic: "\(prefix)/agents/agent-001/nonce/request", payload: Data("{}".utf8),
                    properties: MQTTProperties(responseTopic: responseTopic)),
                timeout: .seconds(15))
        }
        let request = try #require(try await requests.waitFor(1).first)
        let refusal = await #expect(throws: MQTTError.self) {
            try await agent.publish(MQTTMessage(topic: "\(prefix)/agents/agent-002/metrics", payload: Data("x".utf8)))
        }
        #expect(refusal?.reasonCode == 135)

        // Answered after the refusal: the response and a receipt reach the agent's renewed subscriptions.
        try await collector.publish(
            MQTTMessage(
                topic: responseTopic, payload: Data(#"{"nonce":"n"}"#.utf8),
                properties: MQTTProperties(correlationData: request.properties.correlationData)))
        try await collector.publish(MQTTMessage(topic: "\(prefix)/agents/agent-001/receipts", payload: Data("r".utf8)))
        let response = try await requesting.value
        #expect(response.payload == Data(#"{"nonce":"n"}"#.utf8))
        #expect(try await receipts.waitFor(1).map(\.payload) == [Data("r".utf8)])
        try await Task.sleep(for: .milliseconds(300))
        #expect(receipts.messages.count == 1)

        await agent.shutdown()
        await collector.shutdown()
        await gateway.shutdown()
    }
}
