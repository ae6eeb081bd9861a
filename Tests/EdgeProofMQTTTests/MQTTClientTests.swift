import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

@Suite("MQTT client against a real mosquitto with mutual TLS and the ACL")
struct MQTTClientTests {
    @Test("a message published with properties arrives with them")
    func roundTripsWithProperties() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let collector = try await broker.connectedClient("collector-1")
        let inbox = Inbox(collector)
        try await collector.subscribe("\(prefix)/verified/+/metrics")
        let gateway = try await broker.connectedClient("gateway")

        let properties = MQTTProperties(
            userProperties: [MQTTUserProperty("Workload-Geo-ID", #"{"client_workload_id":"agent-001"}"#),
                             MQTTUserProperty("Signature-Input", #"keyid="ab", alg="ES256""#)],
            correlationData: Data([1, 2, 3]), messageExpiryInterval: 60, contentType: "application/jose+json")
        let payload = Data(#"{"protected":"e30","payload":"e30","signature":"AA"}"#.utf8)
        try await gateway.publish(MQTTMessage(topic: "\(prefix)/verified/agent-001/metrics", payload: payload, properties: properties))

        let received = try #require(try await inbox.waitFor(1).first)
        #expect(received.topic == "\(prefix)/verified/agent-001/metrics")
        #expect(received.payload == payload)
        #expect(received.qos == .atLeastOnce)
        #expect(received.properties.userProperties == properties.userProperties)
        #expect(received.properties.correlationData == Data([1, 2, 3]))
        #expect(received.properties.contentType == "application/jose+json")
        #expect((received.properties.messageExpiryInterval ?? 0) > 0)
        await gateway.shutdown()
        await collector.shutdown()
    }

    @Test("request/response through the gateway returns the correlated answer; silence times out")
    func requestResponse() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "gateway", "collector-1"])
        defer { broker.close() }
        let agent = try await broker.connectedClient("agent-001")
        let gateway = try await broker.connectedClient("gateway")
        let collector = try await broker.connectedClient("collector-1")
        try await gateway.subscribe("\(prefix)/agents/+/nonce/request")
        try await collector.subscribe("$share/collectors/\(prefix)/verified/+/nonce/request")

        // Gateway forwards requests; collector answers on the agent's response topic with the correlation data.
        let forwarding = Task {
            for await request in gateway.messages {
                var forwarded = request
                forwarded.topic = request.topic.replacingOccurrences(of: "/agents/", with: "/verified/")
                try? await gateway.publish(forwarded)
            }
        }
        let answering = Task {
            for await request in collector.messages {
                guard let responseTopic = request.properties.responseTopic else { continue }
                let answer = MQTTMessage(
                    topic: responseTopic, payload: Data(#"{"nonce":"n-1"}"#.utf8),
                    properties: MQTTProperties(correlationData: request.properties.correlationData))
                try? await collector.publish(answer)
            }
        }
        defer {
            forwarding.cancel()
            answering.cancel()
        }

        let responseTopic = "\(prefix)/agents/agent-001/nonce/response"
        let request = MQTTMessage(
            topic: "\(prefix)/agents/agent-001/nonce/request", payload: Data("{}".utf8),
            properties: MQTTProperties(responseTopic: responseTopic))
        let response = try await agent.request(request, timeout: .seconds(10))
        #expect(response.payload == Data(#"{"nonce":"n-1"}"#.utf8))
        #expect(response.topic == responseTopic)
        for _ in 0..<5 { _ = try await agent.request(request, timeout: .seconds(10)) }

        // A request nobody answers times out.
        let unanswered = MQTTMessage(
            topic: "\(prefix)/agents/agent-001/metrics", payload: Data(), properties: MQTTProperties(responseTopic: responseTopic))
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: MQTTError.self) { _ = try await agent.request(unanswered, timeout: .milliseconds(500)) }
        // Ends by its timeout, not by hanging: the bound leaves room for a whole parallel suite on 2 cores
        // (3.75 s seen in a fresh-clone run), and a wait without a timeout never returns.
        #expect(clock.now - start < .seconds(15))

        await agent.shutdown()
        await gateway.shutdown()
        await collector.shutdown()
    }

    @Test("a response with foreign correlation data is ignored by the requester")
    func ignoresUncorrelatedResponses() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "collector-1", "gateway"])
        defer { broker.close() }
        let agent = try await broker.connectedClient("agent-001")
        let collector = try await broker.connectedClient("collector-1")
        // Sees the request go out, which the agent sends only once it waits for the answer.
        let gateway = try await broker.connectedClient("gateway")
        let requests = Inbox(gateway)
        try await gateway.subscribe("\(prefix)/agents/+/nonce/request")
        let inbox = Inbox(agent)
        let responseTopic = "\(prefix)/agents/agent-001/nonce/response"
        try await agent.subscribe(responseTopic)

        // A request nobody answers, and a forged answer with other correlation data while it waits. The
        // request's timeout is long so that a loaded machine cannot end it first.
        let requesting = Task {
            try await agent.request(
                MQTTMessage(
                    topic: "\(prefix)/agents/agent-001/nonce/request", payload: Data(),
                    properties: MQTTProperties(responseTopic: responseTopic)),
                timeout: .seconds(60))
        }
        #expect(try await Poll.until(timeout: .seconds(30)) { !requests.messages.isEmpty }, "the request never went out")
        try await collector.publish(
            MQTTMessage(topic: responseTopic, payload: Data(#"{"nonce":"forged"}"#.utf8),
                        properties: MQTTProperties(correlationData: Data("not-yours".utf8))))
        #expect(try await Poll.until(timeout: .seconds(30)) { agent.unmatchedResponses == 1 })
        requesting.cancel()
        await #expect(throws: (any Error).self) { _ = try await requesting.value }
        #expect(inbox.messages.isEmpty)
        await agent.shutdown()
        await collector.shutdown()
        await gateway.shutdown()
    }

    @Test("a client without a certificate is refused")
    func refusesClientWithoutCertificate() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001"])
        defer { broker.close() }
        var configuration = broker.configuration("agent-001")
        configuration.certificateFile = nil
        configuration.keyFile = nil
        let client = try MQTTClient(configuration: configuration, logger: quietLogger)
        client.start()
        await #expect(throws: MQTTError.self) { try await client.waitUntilConnected(timeout: .seconds(2)) }
        #expect(!client.isConnected)
        await client.shutdown()
    }

    @Test("a certificate from another CA is refused")
    func refusesForeignCertificate() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001"])
        defer { broker.close() }
        let foreign = try TemporaryDirectory(prefix: "edgeproof-foreign-ca")
        defer { foreign.remove() }
        let made = try await ProcessRunner.run(PackagePaths.script("broker/gen-certs.sh"), [foreign.path, "agent-001"])
        try #require(made.status == 0, "\(made.standardError)")
        var configuration = broker.configuration("agent-001")
        configuration.certificateFile = foreign.appending("agent-001.crt").path
        configuration.keyFile = foreign.appending("agent-001.key").path
        let client = try MQTTClient(configuration: configuration, logger: quietLogger)
        client.start()
        await #expect(throws: MQTTError.self) { try await client.waitUntilConnected(timeout: .seconds(2)) }
        await client.shutdown()
    }

    @Test("a broker certificate from another CA is refused by the client")
    func refusesForeignBroker() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001"])
        defer { broker.close() }
        let foreign = try TemporaryDirectory(prefix: "edgeproof-foreign-ca")
        defer { foreign.remove() }
        try await #require(try ProcessRunner.run(PackagePaths.script("broker/gen-certs.sh"), [foreign.path, "x"]).status == 0)
        var configuration = broker.configuration("agent-001")
        configuration.caFile = foreign.appending("ca.crt").path
        let client = try MQTTClient(configuration: configuration, logger: quietLogger)
        client.start()
        await #expect(throws: MQTTError.self) { try await client.waitUntilConnected(timeout: .seconds(2)) }
        await client.shutdown()
    }

    @Test("an agent cannot publish to another agent's topics or to verified/ (reason 135)")
    func enforcesPublishACL() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001"])
        defer { broker.close() }
        let agent = try await broker.connectedClient("agent-001")
        try await agent.publish(MQTTMessage(topic: "\(prefix)/agents/agent-001/metrics", payload: Data("{}".utf8)))
        for topic in ["\(prefix)/agents/agent-002/metrics", "\(prefix)/verified/agent-001/metrics",
                      "\(prefix)/agents/agent-002/nonce/request", "\(prefix)/agents/agent-001/nonce/response"] {
            do {
                try await agent.publish(MQTTMessage(topic: topic, payload: Data("{}".utf8)))
                Issue.record("agent-001 published to \(topic)")
            } catch let error as MQTTError {
                #expect(error.reasonCode == 135, "\(topic): \(error)")
            }
        }
        await agent.shutdown()
    }

    @Test("an agent may not subscribe to another agent's nonce responses, and receives none of them")
    func enforcesSubscribeACL() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "agent-002", "collector-1"])
        defer { broker.close() }
        let eavesdropper = try await broker.connectedClient("agent-001")
        let owner = try await broker.connectedClient("agent-002")
        let collector = try await broker.connectedClient("collector-1")
        let stolen = Inbox(eavesdropper)
        let delivered = Inbox(owner)
        let topic = "\(prefix)/agents/agent-002/nonce/response"
        for filter in [topic, "\(prefix)/agents/+/nonce/response", "$share/g/\(topic)", "#"] {
            let refusal = await #expect(throws: MQTTError.self, "SUBSCRIBE \(filter)") {
                try await eavesdropper.subscribe(filter)
            }
            #expect(refusal?.reasonCode == 135)
        }
        #expect(try await eavesdropper.subscribe("\(prefix)/agents/agent-001/nonce/response") == 1)
        try await owner.subscribe(topic)
        try await collector.publish(MQTTMessage(topic: topic, payload: Data(#"{"nonce":"secret"}"#.utf8)))

        #expect(try await delivered.waitFor(1).count == 1)
        try await Task.sleep(for: .milliseconds(300))
        #expect(stolen.messages.isEmpty)
        await eavesdropper.shutdown()
        await owner.shutdown()
        await collector.shutdown()
    }
}

@Suite("Clients added to a running broker")
struct AddedClientTests {
    @Test("an agent added while the broker runs may use its own topics at once, and no others; the broker keeps running")
    func agentAddedWithoutRestartGetsItsOwnRightsOnly() async throws {
        let broker = try await MosquittoBroker.start(clients: ["agent-001", "collector-1"])
        defer { broker.close() }
        let pidBefore = broker.pid
        try broker.addClients(["agent-077"])
        #expect(broker.pid == pidBefore, "no restart")

        let newcomer = try await broker.connectedClient("agent-077")
        try await newcomer.publish(MQTTMessage(topic: "\(prefix)/agents/agent-077/metrics", payload: Data("{}".utf8)))
        #expect(try await newcomer.subscribe("\(prefix)/agents/agent-077/receipts") == 1)
        let write = await #expect(throws: MQTTError.self) {
            try await newcomer.publish(MQTTMessage(topic: "\(prefix)/agents/agent-001/metrics", payload: Data("{}".utf8)))
        }
        #expect(write?.reasonCode == 135)
        try await newcomer.waitUntilConnected(timeout: .seconds(10))
        let join = await #expect(throws: MQTTError.self) {
            try await newcomer.subscribe("$share/collectors/\(prefix)/verified/+/nonce/request")
        }
        #expect(join?.reasonCode == 135)
        await newcomer.shutdown()
    }
}

@Suite("Broker ACL for monitors")
struct MonitorACLTests {
    @Test("a monitor reads status and events but cannot publish anywhere or read agent traffic")
    func monitorIsReadOnly() async throws {
        let broker = try await MosquittoBroker.start(clients: ["monitor", "collector-1", "agent-001"])
        defer { broker.close() }
        let monitor = try await broker.connectedClient("monitor")
        let collector = try await broker.connectedClient("collector-1")
        let agent = try await broker.connectedClient("agent-001")
        let inbox = Inbox(monitor)
        // A filter wider than its read rights is refused; status and events are granted.
        let refusal = await #expect(throws: MQTTError.self) { try await monitor.subscribe("\(prefix)/#") }
        #expect(refusal?.reasonCode == 135)
        try await monitor.subscribe("\(prefix)/status/#")
        try await monitor.subscribe("\(prefix)/events/#")
        try await collector.publish(MQTTMessage(topic: "\(prefix)/events/collector/collector-1", payload: Data("e".utf8)))
        try await collector.publish(MQTTMessage(topic: "\(prefix)/agents/agent-001/receipts", payload: Data("r".utf8)))
        try await agent.publish(MQTTMessage(topic: "\(prefix)/agents/agent-001/metrics", payload: Data("m".utf8)))
        try await collector.publish(MQTTMessage(topic: "\(prefix)/status/collector/collector-1", payload: Data("s".utf8), retain: true))
        let received = try await inbox.waitFor(2)
        try await Task.sleep(for: .milliseconds(300))
        #expect(Set(inbox.messages.map(\.topic)) == ["\(prefix)/events/collector/collector-1", "\(prefix)/status/collector/collector-1"])
        #expect(received.count >= 2)
        for topic in ["\(prefix)/events/collector/collector-1", "\(prefix)/verified/agent-001/metrics", "\(prefix)/agents/agent-001/metrics"] {
            await #expect(throws: MQTTError.self) {
                try await monitor.publish(MQTTMessage(topic: topic, payload: Data("x".utf8)))
            }
        }
        await monitor.shutdown()
        await collector.shutdown()
        await agent.shutdown()
    }
}
