import Crypto
import EdgeProofCollector
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("Collector envelope verification and storage")
struct CollectorEnvelopeTests {
    @Test func sendsReceiptOnlyAfterTheRecordIsInTheRecordsFile() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let configuration = world.configuration()
        let collector = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)

        let nonce = try await session.nonce()
        let envelope = try await world.agentSigner.envelope(nonce: nonce.nonce)
        try await session.forward(envelope.serialized())
        let receipts = try await session.receipts(for: nonce.nonce)
        let receipt = try #require(receipts.first)
        #expect(receipt.collector == "collector-1")
        #expect(receipt.status == "accepted")

        // When the receipt arrived, the record was already on disk, and it re-verifies offline.
        let records = try storedRecords(in: configuration.records.directory)
        let record = try #require(records.first { $0.nonce == nonce.nonce })
        #expect(record.agentName == "agent-001")
        #expect(record.topic == topics.verifiedMetrics("agent-001"))
        #expect(record.protected == envelope.protected && record.signature == envelope.signature)
        try record.verify(with: world.allowlist)

        try await collector.stop()
        // Shutdown closes the active file: only .jsonl files remain.
        let names = try FileManager.default.contentsOfDirectory(atPath: configuration.records.directory)
        #expect(names.contains { $0.hasPrefix("records-") && $0.hasSuffix(".jsonl") })
        #expect(!names.contains { $0.hasSuffix(".open") })
        // The accepted event is in the events file.
        let events = try jsonLines(in: configuration.resolvedEventsDirectory, prefix: "events")
            .map { try JSONDecoder().decode(TrustEvent.self, from: $0) }
        #expect(events.contains { $0.kind == "accepted" && $0.agentName == "agent-001" })
        await session.close()
    }

    @Test func rejectsEachInvalidEnvelopeWithItsReasonAndStoresNothing() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let configuration = world.configuration()
        let collector = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)
        let signer = world.agentSigner
        let otherKey = TestSigner()

        struct Case {
            let reason: String
            let validationType: ValidationType
            let topicAgent: String
        }
        var cases = [Case]()

        // bad_signature: the right kid and claims, signed by another key.
        var impostor = otherKey
        impostor.claimedHash = signer.publicKeyHash
        try await session.forward(try await impostor.envelope(nonce: try await session.nonce().nonce).serialized())
        cases.append(Case(reason: "bad_signature", validationType: .signatureVerification, topicAgent: "agent-001"))

        // public_key_hash_mismatch: agent-001 signing with a key that is not its allowlisted one.
        try await session.forward(try await otherKey.envelope(nonce: try await session.nonce().nonce).serialized())
        cases.append(Case(reason: "public_key_hash_mismatch", validationType: .agentVerification, topicAgent: "agent-001"))

        // agent_not_found: agent-002 is not on the allowlist.
        try await session.forward(
            try await otherKey.envelope(agent: "agent-002", nonce: try await session.nonce().nonce).serialized(),
            agent: "agent-002")
        cases.append(Case(reason: "agent_not_found", validationType: .agentVerification, topicAgent: "agent-002"))

        // nonce_expired: an authentic nonce (shared key) that expired ten minutes ago.
        let expired = try world.nonceAuthority().issue(for: signer.publicKeyHash, now: Date().addingTimeInterval(-900))
        try await session.forward(try await signer.envelope(nonce: expired.token).serialized())
        cases.append(Case(reason: "nonce_expired", validationType: .nonceValidation, topicAgent: "agent-001"))

        // nonce_invalid: not a token any collector issued.
        let forged = String(repeating: "A", count: 67)
        try await session.forward(try await signer.envelope(nonce: forged).serialized())
        cases.append(Case(reason: "nonce_invalid", validationType: .nonceValidation, topicAgent: "agent-001"))

        // timestamp_skew: a valid nonce, but signed "in 2099": the collector checks the time itself.
        let future = Date(timeIntervalSince1970: 4_070_908_800)
        try await session.forward(try await signer.envelope(nonce: try await session.nonce().nonce, signedAt: future).serialized())
        cases.append(Case(reason: "timestamp_skew", validationType: .timestampProximity, topicAgent: "agent-001"))

        // location_not_allowed: signed from Berlin.
        let berlin = GeographicRegion(region: "EU", state: "Germany", city: "Berlin")
        try await session.forward(try await signer.envelope(nonce: try await session.nonce().nonce, region: berlin).serialized())
        cases.append(Case(reason: "location_not_allowed", validationType: .geolocationPolicy, topicAgent: "agent-001"))

        // topic_mismatch: agent-001's envelope republished on agent-002's topic.
        try await session.forward(
            try await signer.envelope(nonce: try await session.nonce().nonce).serialized(), agent: "agent-002")
        cases.append(Case(reason: "topic_mismatch", validationType: .requestValidation, topicAgent: "agent-002"))

        // malformed_envelope: not a JWS at all.
        try await session.forward(Data("not a JWS {".utf8))
        cases.append(Case(reason: "malformed_envelope", validationType: .requestValidation, topicAgent: "agent-001"))

        // payload_too_large.
        try await session.forward(Data(repeating: UInt8(ascii: " "), count: 262_145))
        cases.append(Case(reason: "payload_too_large", validationType: .requestValidation, topicAgent: "agent-001"))

        for expected in cases {
            let found = try await session.rejection(for: expected.topicAgent, reason: expected.reason)
            let rejection = try #require(found?.rejection, "no \(expected.reason) rejection")
            #expect(rejection.rejectedBy == .collector, "\(expected.reason)")
            #expect(rejection.validationType == expected.validationType, "\(expected.reason)")
            #expect(!rejection.error.isEmpty)
        }
        #expect(session.agentInbox.messages.filter { $0.topic == topics.agentReceipts("agent-001") }.isEmpty)
        #expect(try storedRecords(in: configuration.records.directory).isEmpty)

        try await collector.stop()

        // Every rejection is an event in the events file and is counted in the final status.
        let events = try jsonLines(in: configuration.resolvedEventsDirectory, prefix: "events")
            .map { try JSONDecoder().decode(TrustEvent.self, from: $0) }
        for expected in cases {
            #expect(events.contains { $0.kind == "rejection" && $0.rejection?.reasonCode == expected.reason }, "\(expected.reason)")
        }
        let offline = try await session.gatewayInbox.first {
            $0.topic == topics.status(component: "collector", id: "collector-1")
                && (try? JSONDecoder().decode(ComponentStatus.self, from: $0.payload))?.state == .offline
        }
        let status = try JSONDecoder().decode(ComponentStatus.self, from: try #require(offline).payload)
        #expect(status.counters?["rejected"] == cases.count)
        #expect(status.counters?["rejected.bad_signature"] == 1)
        #expect(status.counters?["accepted"] == nil)
        await session.close()
    }

    @Test func acceptsAnEnvelopeOnceAndRejectsItsReplay() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let configuration = world.configuration()
        let collector = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)

        let nonce = try await session.nonce()
        let payload = try await world.agentSigner.envelope(nonce: nonce.nonce).serialized()
        try await session.forward(payload)
        #expect(try await session.receipts(for: nonce.nonce).count == 1)
        try await session.forward(payload)
        let found = try await session.rejection(reason: "nonce_replayed")
        #expect(found?.rejection.validationType == .nonceValidation)
        #expect(try storedRecords(in: configuration.records.directory).filter { $0.nonce == nonce.nonce }.count == 1)

        try await collector.stop()
        await session.close()
    }

    @Test func keepsReplayProtectionAcrossARestart() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let configuration = world.configuration()
        let first = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)
        let nonce = try await session.nonce()
        let payload = try await world.agentSigner.envelope(nonce: nonce.nonce).serialized()
        try await session.forward(payload)
        #expect(try await session.receipts(for: nonce.nonce).count == 1)
        try await first.stop()

        let second = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)
        // The identical envelope again (an agent that missed its receipt): refused, and the answer
        // says this collector has it.
        try await session.forward(payload)
        let resend = try #require(try await session.rejection(reason: "nonce_replayed"))
        #expect(resend.rejection.details["stored_at"] != nil)
        #expect(resend.rejection.details["collector"]?.stringValue == configuration.id)
        try await second.stop()
        #expect(try storedRecords(in: configuration.records.directory).filter { $0.nonce == nonce.nonce }.count == 1)
        await session.close()
    }

    @Test func recordWrittenJustBeforeACrashStillBlocksReplaysAndAnswersTheResend() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let configuration = world.configuration()
        // A crash after the durable write and before the receipt leaves the record in an open file
        // (no receipt was ever sent). Build that state by hand, with a torn line after it.
        let nonce = try world.nonceAuthority().issue(for: world.agentSigner.publicKeyHash)
        let envelope = try await world.agentSigner.envelope(nonce: nonce.token)
        let record = StoredRecord(
            envelope: envelope, topic: "edgeproof/v1/verified/agent-001/metrics", collector: configuration.id,
            receivedAt: Timestamp.string(from: Date()))
        let encoder = JSONEncoder()
        var content = try encoder.encode(record)
        content.append(contentsOf: Array("\n{\"received_at\":\"2026".utf8))
        try FileManager.default.createDirectory(atPath: configuration.records.directory, withIntermediateDirectories: true)
        try content.write(
            to: URL(fileURLWithPath: configuration.records.directory)
                .appendingPathComponent("records-20261121T000000Z-000009.jsonl.open"))

        let restarted = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)
        try await session.forward(envelope.serialized())
        let resend = try #require(try await session.rejection(reason: "nonce_replayed"))
        #expect(resend.rejection.details["stored_at"] != nil)
        // Another envelope with the same nonce (a new signature over other claims) is a plain replay.
        try await session.forward(try await world.agentSigner.envelope(nonce: nonce.token).serialized())
        let other = try await session.agentInbox.first(timeout: .seconds(10)) { message in
            guard let rejection = try? JSONDecoder().decode(Rejection.self, from: message.payload) else { return false }
            return rejection.reasonCode == "nonce_replayed" && rejection.details["stored_at"] == nil
        }
        #expect(other != nil)
        try await restarted.stop()
        let stored = try storedRecords(in: configuration.records.directory)
        #expect(stored.count == 1)
        #expect(stored.first?.nonce == nonce.token)
        await session.close()
    }

    @Test(arguments: [CollectorConfiguration.NonceSubscription.shared, .all])
    func twoCollectorsStoreEveryEnvelopeAndAcceptEachOthersNonces(
        subscription: CollectorConfiguration.NonceSubscription
    ) async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        let session = try await Session.start(world)
        let one = world.configuration(id: "collector-1", subscription: subscription)
        let two = world.configuration(id: "collector-2", subscription: subscription)
        let first = try await RunningCollector.start(one, statusInbox: session.gatewayInbox)
        let second = try await RunningCollector.start(two, statusInbox: session.gatewayInbox)

        var nonces = [String]()
        for _ in 0..<6 {
            let nonce = try await session.nonce()
            nonces.append(nonce.nonce)
            try await session.forward(try await world.agentSigner.envelope(nonce: nonce.nonce).serialized())
        }
        for nonce in nonces {
            let receipts = try await session.receipts(for: nonce, count: 2 * nonces.count)
            #expect(Set(receipts.map(\.collector)) == ["collector-1", "collector-2"], "receipts for \(nonce)")
        }
        #expect(Set(try storedRecords(in: one.records.directory).map(\.nonce)) == Set(nonces))
        #expect(Set(try storedRecords(in: two.records.directory).map(\.nonce)) == Set(nonces))

        try await first.stop()
        try await second.stop()
        await session.close()
    }
}
