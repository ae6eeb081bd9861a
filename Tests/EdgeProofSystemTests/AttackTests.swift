import EdgeProofCore
import EdgeProofDemo
import EdgeProofMQTT
import EdgeProofService
import EdgeProofStorage
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Testing

/// Topic-injection attacks against the running system: real broker with mTLS and the ACL, real TPMs,
/// gateway and collector as services. Each case checks the specific rejection (or the broker's
/// refusal), that nothing of the attack is stored, and that honest envelopes are still accepted.
/// Cases share one system per gateway mode to keep the suite fast; every expectation names its case.
@Suite("Attacks on the running system", .serialized, .timeLimit(.minutes(10)))
struct AttackTests {
    @Test("replayed, misaddressed, forged, tampered and impostor envelopes are refused with their specific reason (passthrough: the collector decides); nothing of them is stored; honest traffic keeps flowing")
    func attacksInPassthroughMode() async throws {
        let system = try await SystemFixture(
            agents: ["agent-001", "agent-002"], collectors: ["collector-1", "collector-rogue"],
            extraClients: ["gateway-rogue"])
        defer { system.close() }
        let (monitor, statuses) = try await system.monitor()
        let components = ["collector/collector-1", "gateway/gateway"]
        var services = try await OnlineServices(
            try system.collector("collector-1").services + system.gateway().services,
            system: system, statuses: statuses,
            waitFor: components)
        let honest = try await Link("agent-001", system: system)
        let other = try await Link("agent-002", system: system)
        let signer = try #require(system.signers["agent-001"])
        let otherSigner = try #require(system.signers["agent-002"])
        let topics = TopicTree()
        let ledger = Ledger(system: system, collector: "collector-1")

        func honestEnvelope() async throws -> SignedEnvelope {
            let nonce = try await honest.nonce().nonce
            return try await SignedEnvelope.sign(
                attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: nonce), with: signer)
        }
        /// An honest envelope is accepted and stored (valid traffic keeps flowing after `label`).
        func honestStillAccepted(_ label: String, _ given: SignedEnvelope? = nil) async throws {
            let envelope: SignedEnvelope
            if let given { envelope = given } else { envelope = try await honestEnvelope() }
            let outcome = try await honest.send(envelope.serialized(), nonce: envelope.claims.nonce)
            #expect(outcome.isReceipt, "\(label): an honest envelope afterwards was not accepted: \(outcome)")
            if outcome.isReceipt { ledger.accepted(envelope.claims.nonce) }
            try ledger.check(label)
        }

        // 1. Replay of a captured, accepted envelope.
        let captured = try await honestEnvelope()
        let original = try await honest.send(captured.serialized(), nonce: captured.claims.nonce)
        #expect(original.isReceipt, "case 1: the original envelope is accepted: \(original)")
        ledger.accepted(captured.claims.nonce)
        let replay = try await honest.send(captured.serialized(), nonce: captured.claims.nonce)
        #expect(replay.summary == "collector/nonce_validation/nonce_replayed", "case 1 (immediate replay): \(replay)")
        try ledger.check("case 1")
        try await honestStillAccepted("case 1")

        // 2. The same replay after a collector (and gateway) restart: the records are read back on start.
        try await services.stop()
        services = try await OnlineServices(
            try system.collector("collector-1").services + system.gateway().services,
            system: system, statuses: statuses,
            waitFor: components)
        let afterRestart = try await honest.send(captured.serialized(), nonce: captured.claims.nonce, wait: .seconds(20))
        #expect(
            afterRestart.summary == "collector/nonce_validation/nonce_replayed",
            "case 2 (replay after collector restart): \(afterRestart)")
        try ledger.check("case 2")
        try await honestStillAccepted("case 2")

        // 4. Replay straight onto verified/: an agent may not publish there; a (rogue) gateway
        // certificate may, and then the collector refuses the used nonce.
        let direct = try await honest.send(captured.serialized(), topic: topics.verifiedMetrics("agent-001"))
        #expect(direct.summary == "broker/135", "case 4 (agent publishes on verified/): \(direct)")
        let rogueGateway = try await Link("gateway-rogue", system: system)
        let mark = honest.inboxCount
        try await rogueGateway.client.publish(
            MQTTMessage(topic: topics.verifiedMetrics("agent-001"), payload: captured.serialized()))
        let viaRogue = try await honest.next(after: mark, nonce: captured.claims.nonce)
        #expect(
            viaRogue.summary == "collector/nonce_validation/nonce_replayed",
            "case 4 (gateway certificate replays onto verified/): \(viaRogue)")
        try ledger.check("case 4")

        // 5. Agent A's valid envelope published on agent B's topic, with B's certificate.
        let stolen = try await honestEnvelope()
        let misaddressed = try await other.send(stolen.serialized(), nonce: stolen.claims.nonce)
        #expect(
            misaddressed.summary == "collector/request_validation/topic_mismatch",
            "case 5 (A's envelope on B's topic, passthrough): \(misaddressed)")
        try ledger.check("case 5")
        // The refused copy did not consume the nonce: the rightful owner's envelope still goes through.
        try await honestStillAccepted("case 5", stolen)

        // 6. Agent B signs with its own key but uses a nonce issued to agent A.
        let nonceOfA = try await honest.nonce().nonce
        let borrowed = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-002", keyHash: otherSigner.publicKeyHash, nonce: nonceOfA), with: otherSigner)
        let borrowedOutcome = try await other.send(borrowed.serialized(), nonce: nonceOfA)
        #expect(
            borrowedOutcome.summary == "collector/nonce_validation/nonce_agent_mismatch",
            "case 6 (B uses A's nonce): \(borrowedOutcome)")
        try ledger.check("case 6")

        // 7. An expired nonce, made with the collectors' real shared key.
        let keyring = try NonceKeyFile(path: system.nonceKeyPath).load()
        let authority = NonceAuthority(keyring: keyring)
        let expired = authority.issue(for: signer.publicKeyHash, now: Date().addingTimeInterval(-600)).token
        let expiredEnvelope = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: expired), with: signer)
        let expiredOutcome = try await honest.send(expiredEnvelope.serialized(), nonce: expired)
        #expect(expiredOutcome.summary == "collector/nonce_validation/nonce_expired", "case 7 (expired nonce): \(expiredOutcome)")
        try ledger.check("case 7")

        // 8. Forged nonces: a flipped MAC byte, an unknown key id, a well-formed token never issued.
        let real = try await honest.nonce().nonce
        var flipped = try #require(Base64URL.decode(real).map(Array.init))
        flipped[flipped.count - 1] ^= 0x01
        var unknownKey = try #require(Base64URL.decode(real).map(Array.init))
        unknownKey[1] = keyring.current.id &+ 77
        var neverIssued = (0..<50).map { _ in UInt8.random(in: 0...255) }
        neverIssued[0] = 1
        neverIssued[1] = keyring.current.id
        neverIssued.replaceSubrange(10..<18, with: signer.publicKeyHash.bytes.prefix(8))
        for (label, bytes) in [("flipped MAC byte", flipped), ("unknown key id", unknownKey), ("never issued", neverIssued)] {
            let token = Base64URL.encode(bytes)
            let forged = try await SignedEnvelope.sign(
                attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: token), with: signer)
            let outcome = try await honest.send(forged.serialized(), nonce: token)
            #expect(outcome.summary == "collector/nonce_validation/nonce_invalid", "case 8 (\(label)): \(outcome)")
        }
        try ledger.check("case 8")

        // 9. Tampered claims under the original signature.
        let genuine = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: real), with: signer)
        var moved = genuine.claims
        moved.geographicRegion = GeographicRegion(region: "US", state: "California", city: "San Jose")
        var inflated = genuine.claims
        inflated.metrics.samples[0].values["cpu_percent"] = .number(99.5)
        for (label, claims) in [("location changed", moved), ("metric changed", inflated)] {
            let tampered = flattenedJWS(
                protected: genuine.protected, payload: try encodedJSON(claims), signature: genuine.signature)
            let outcome = try await honest.send(tampered, nonce: real)
            #expect(
                outcome.summary == "collector/signature_verification/bad_signature", "case 9 (\(label)): \(outcome)")
        }
        try ledger.check("case 9")

        // 11. A signature by a key that is not the allowlisted one: claiming the agent's key hash, and
        // with its own key hash.
        let impostor = TestSigner(claimedHash: signer.publicKeyHash)
        let impersonated = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: real), with: impostor)
        let impersonatedOutcome = try await honest.send(impersonated.serialized(), nonce: real)
        #expect(
            impersonatedOutcome.summary == "collector/signature_verification/bad_signature",
            "case 11 (foreign key, agent's kid): \(impersonatedOutcome)")
        let ownKey = TestSigner()
        let selfSigned = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-001", keyHash: ownKey.publicKeyHash, nonce: real), with: ownKey)
        let selfSignedOutcome = try await honest.send(selfSigned.serialized(), nonce: real)
        #expect(
            selfSignedOutcome.summary == "collector/agent_verification/public_key_hash_mismatch",
            "case 11 (foreign key, its own kid): \(selfSignedOutcome)")
        try ledger.check("case 11")

        // 13. Algorithms outside ES256/RS256, and RS256 against the agent's EC key.
        for alg in ["none", "HS256", "RS256"] {
            let header = #"{"alg":"\#(alg)","kid":"\#(signer.publicKeyHash.hex)","typ":"edgeproof+jws"}"#
            let forged = flattenedJWS(
                protected: Base64URL.encode(Data(header.utf8)), payload: genuine.payload,
                signature: alg == "none" ? "" : genuine.signature)
            let outcome = try await honest.send(forged, nonce: real)
            #expect(
                outcome.summary == "collector/signature_verification/unsupported_alg", "case 13 (alg \(alg)): \(outcome)")
        }
        try ledger.check("case 13")
        // None of the failed attempts consumed the nonce they carried.
        try await honestStillAccepted("cases 8–13", genuine)

        // 14. Fake nonce responses on agent-001's response topic.
        let fake = Data(#"{"nonce":"AAAA","expires_at":"2099-01-01T00:00:00.000Z"}"#.utf8)
        let byAgent = try await other.send(fake, topic: topics.agentNonceResponse("agent-001"))
        #expect(byAgent.summary == "broker/135", "case 14 (another agent injects a nonce response): \(byAgent)")
        let rogueCollector = try await Link("collector-rogue", system: system)
        let unmatchedBefore = honest.client.unmatchedResponses
        try await rogueCollector.client.publish(
            MQTTMessage(
                topic: topics.agentNonceResponse("agent-001"), payload: fake,
                properties: MQTTProperties(correlationData: Data("not-a-request".utf8))))
        let deadline = ContinuousClock.now + .seconds(5)
        while honest.client.unmatchedResponses == unmatchedBefore, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(
            honest.client.unmatchedResponses == unmatchedBefore + 1,
            "case 14: the uncorrelated injected response is dropped and counted")
        let afterInjection = try await honestEnvelope()
        #expect(afterInjection.claims.nonce != "AAAA", "case 14: the agent's own request gets a real nonce")
        try await honestStillAccepted("case 14", afterInjection)

        // 15. The same valid envelope twice, back to back.
        let twice = try await honestEnvelope()
        async let firstPublish: Void = honest.client.publish(
            MQTTMessage(topic: topics.agentMetrics("agent-001"), payload: twice.serialized()))
        async let secondPublish: Void = honest.client.publish(
            MQTTMessage(topic: topics.agentMetrics("agent-001"), payload: twice.serialized()))
        _ = try await (firstPublish, secondPublish)
        let twiceDeadline = ContinuousClock.now + .seconds(5)
        while honest.outcomes(for: twice.claims.nonce).count < 2, ContinuousClock.now < twiceDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let both = honest.outcomes(for: twice.claims.nonce).map(\.summary).sorted()
        #expect(both == ["accepted", "collector/nonce_validation/nonce_replayed"], "case 15 (concurrent duplicates): \(both)")
        ledger.accepted(twice.claims.nonce)
        try ledger.check("case 15")

        // 15b. The same valid envelope at once from two connections: the agent's own and a gateway
        // certificate straight onto verified/.
        let racing = try await honestEnvelope()
        async let fromAgent: Void = honest.client.publish(
            MQTTMessage(topic: topics.agentMetrics("agent-001"), payload: racing.serialized()))
        async let fromGateway: Void = rogueGateway.client.publish(
            MQTTMessage(topic: topics.verifiedMetrics("agent-001"), payload: racing.serialized()))
        _ = try await (fromAgent, fromGateway)
        let racingDeadline = ContinuousClock.now + .seconds(5)
        while honest.outcomes(for: racing.claims.nonce).count < 2, ContinuousClock.now < racingDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let raced = honest.outcomes(for: racing.claims.nonce).map(\.summary).sorted()
        #expect(
            raced == ["accepted", "collector/nonce_validation/nonce_replayed"],
            "case 15b (duplicates from two connections): \(raced)")
        ledger.accepted(racing.claims.nonce)
        try ledger.check("case 15b")

        // 14b. A nonce request naming another agent's response topic is answered on the requester's
        // own topic only (no reflection): agent-001 sees nothing, agent-002 gets the (uncorrelated) answer.
        _ = try await other.nonce()  // agent-002's client now treats its own response topic as one
        let victimUnmatched = honest.client.unmatchedResponses
        let requesterUnmatched = other.client.unmatchedResponses
        try await other.client.publish(
            MQTTMessage(
                topic: topics.agentNonceRequest("agent-002"), payload: Data("{}".utf8),
                properties: MQTTProperties(
                    responseTopic: topics.agentNonceResponse("agent-001"), correlationData: Data("reflect".utf8))))
        let reflectDeadline = ContinuousClock.now + .seconds(5)
        while other.client.unmatchedResponses == requesterUnmatched, ContinuousClock.now < reflectDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(
            other.client.unmatchedResponses == requesterUnmatched + 1,
            "case 14b: the answer went to the requester's own response topic")
        #expect(honest.client.unmatchedResponses == victimUnmatched, "case 14b: nothing was reflected to agent-001")

        // 16. Honestly signed with a valid nonce, but dated 2001 or 2099: the collector checks the time
        // itself (zero trust: in passthrough no gateway looked at it).
        for year in [2001, 2099] {
            let dated = Date(timeIntervalSince1970: year == 2001 ? 978_307_200 : 4_070_908_800)
            let stale = try await SignedEnvelope.sign(
                attackClaims(
                    agent: "agent-001", keyHash: signer.publicKeyHash, nonce: try await honest.nonce().nonce,
                    timestamp: dated),
                with: signer)
            let outcome = try await honest.send(stale.serialized(), nonce: stale.claims.nonce)
            #expect(
                outcome.summary == "collector/timestamp_proximity/timestamp_skew",
                "case 16 (timestamp in \(year)): \(outcome)")
            try ledger.check("case 16 (\(year))")
        }
        try await honestStillAccepted("case 16")

        // 12. A revoked agent: its nonce was fetched before the revocation.
        let nonceBeforeRevocation = try await other.nonce().nonce
        try await revoke("agent-002", in: system, reloadedBy: ["collector/collector-1"])
        let revokedEnvelope = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-002", keyHash: otherSigner.publicKeyHash, nonce: nonceBeforeRevocation),
            with: otherSigner)
        let revokedOutcome = try await other.send(revokedEnvelope.serialized(), nonce: nonceBeforeRevocation)
        #expect(
            revokedOutcome.summary == "collector/agent_verification/agent_revoked", "case 12 (revoked agent): \(revokedOutcome)")
        try await honestStillAccepted("case 12")

        for link in [honest, other, rogueGateway, rogueCollector] { await link.close() }
        try await services.stop()
        await monitor.shutdown()
    }

    @Test("a replay after a second collector joined: the first collector refuses it; the newcomer, whose replay cache never saw the nonce, stores its single copy; a further replay is refused by both")
    func replayToCollectorThatJoinedLater() async throws {
        let system = try await SystemFixture(agents: ["agent-001"], collectors: ["collector-1", "collector-2"])
        defer { system.close() }
        let (monitor, statuses) = try await system.monitor()
        let first = try await OnlineServices(
            try system.collector("collector-1").services + system.gateway().services,
            system: system, statuses: statuses,
            waitFor: ["collector/collector-1", "gateway/gateway"])
        let honest = try await Link("agent-001", system: system)
        let signer = try #require(system.signers["agent-001"])
        let nonce = try await honest.nonce().nonce
        let captured = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: nonce), with: signer)
        let original = try await honest.send(captured.serialized(), nonce: nonce)
        #expect(original.isReceipt, "case 3: the original is accepted by collector-1: \(original)")

        let second = try await OnlineServices(
            try system.collector("collector-2").services,
            system: system, statuses: statuses, waitFor: ["collector/collector-2"])
        func outcomes(after count: Int) async throws -> [String] {
            let deadline = ContinuousClock.now + .seconds(5)
            while honest.outcomes(for: nonce).count < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(200))
            return honest.outcomes(for: nonce).dropFirst(count - 2).map { outcome in
                if case .receipt(let receipt) = outcome { "accepted by \(receipt.collector)" } else { outcome.summary }
            }.sorted()
        }
        try await honest.client.publish(MQTTMessage(topic: TopicTree().agentMetrics("agent-001"), payload: captured.serialized()))
        let replayed = try await outcomes(after: 3)
        #expect(
            replayed == ["accepted by collector-2", "collector/nonce_validation/nonce_replayed"],
            "case 3 (replay after collector-2 joined): \(replayed)")
        try await honest.client.publish(MQTTMessage(topic: TopicTree().agentMetrics("agent-001"), payload: captured.serialized()))
        let again = try await outcomes(after: 5)
        #expect(
            again == ["collector/nonce_validation/nonce_replayed", "collector/nonce_validation/nonce_replayed"],
            "case 3 (second replay): \(again)")
        #expect(try system.records(of: "collector-1").map(\.nonce) == [nonce], "case 3: collector-1 stored the envelope once")
        #expect(try system.records(of: "collector-2").map(\.nonce) == [nonce], "case 3: collector-2 stored the envelope once")

        await honest.close()
        try await second.stop()
        try await first.stop()
        await monitor.shutdown()
    }

    @Test("in enforce mode the gateway refuses misaddressed, contradicting, tampered and revoked envelopes itself; a valid replay still reaches the collector and is refused there; honest traffic keeps flowing")
    func attacksInEnforceMode() async throws {
        let system = try await SystemFixture(agents: ["agent-001", "agent-002"], collectors: ["collector-1"])
        defer { system.close() }
        let (monitor, statuses) = try await system.monitor()
        let services = try await OnlineServices(
            try system.collector("collector-1").services + system.gateway(mode: "enforce").services, system: system,
            statuses: statuses, waitFor: ["collector/collector-1", "gateway/gateway"])
        let honest = try await Link("agent-001", system: system)
        let other = try await Link("agent-002", system: system)
        let signer = try #require(system.signers["agent-001"])
        let otherSigner = try #require(system.signers["agent-002"])
        let ledger = Ledger(system: system, collector: "collector-1")

        func honestEnvelope(city: String = "Santa Clara") async throws -> SignedEnvelope {
            let nonce = try await honest.nonce().nonce
            return try await SignedEnvelope.sign(
                attackClaims(agent: "agent-001", keyHash: signer.publicKeyHash, nonce: nonce, city: city), with: signer)
        }
        func properties(_ envelope: SignedEnvelope, claiming claims: EnvelopeClaims? = nil) -> [MQTTUserProperty] {
            [MQTTUserProperty(EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: claims ?? envelope.claims).headerValue)]
        }

        // 1 (enforce). The gateway forwards a valid replay; the collector refuses it.
        let captured = try await honestEnvelope()
        let original = try await honest.send(captured.serialized(), properties: properties(captured), nonce: captured.claims.nonce)
        #expect(original.isReceipt, "case 1 (enforce): the original with truthful properties is accepted: \(original)")
        if original.isReceipt { ledger.accepted(captured.claims.nonce) }
        let replay = try await honest.send(captured.serialized(), nonce: captured.claims.nonce)
        #expect(replay.summary == "collector/nonce_validation/nonce_replayed", "case 1 (enforce replay): \(replay)")
        try ledger.check("case 1 (enforce)")

        // 5 (enforce). A's envelope on B's topic, with B's certificate.
        let stolen = try await honestEnvelope()
        let misaddressed = try await other.send(stolen.serialized(), nonce: stolen.claims.nonce)
        #expect(
            misaddressed.summary == "gateway/request_validation/topic_mismatch",
            "case 5 (A's envelope on B's topic, enforce): \(misaddressed)")
        try ledger.check("case 5 (enforce)")

        // 10. A Workload-Geo-ID property naming another city than the signed claims.
        var elsewhere = stolen.claims
        elsewhere.geographicRegion = GeographicRegion(region: "US", state: "California", city: "Los Angeles")
        let contradicted = try await honest.send(
            stolen.serialized(), properties: properties(stolen, claiming: elsewhere), nonce: stolen.claims.nonce)
        #expect(
            contradicted.summary == "gateway/signature_verification/header_mismatch",
            "case 10 (Workload-Geo-ID contradicts the claims): \(contradicted)")
        try ledger.check("case 10")

        // 9 (enforce). Tampered claims under the original signature.
        var inflated = stolen.claims
        inflated.metrics.samples[0].values["cpu_percent"] = .number(99.5)
        let tampered = flattenedJWS(protected: stolen.protected, payload: try encodedJSON(inflated), signature: stolen.signature)
        let tamperedOutcome = try await honest.send(tampered, nonce: stolen.claims.nonce)
        #expect(
            tamperedOutcome.summary == "gateway/signature_verification/bad_signature",
            "case 9 (enforce, metric changed): \(tamperedOutcome)")
        try ledger.check("case 9 (enforce)")

        // After all that, the rightful envelope (nonce unconsumed) with truthful properties is accepted.
        let rightful = try await honest.send(stolen.serialized(), properties: properties(stolen), nonce: stolen.claims.nonce)
        #expect(rightful.isReceipt, "cases 5/9/10 (enforce): the untouched envelope is still accepted: \(rightful)")
        if rightful.isReceipt { ledger.accepted(stolen.claims.nonce) }
        try ledger.check("after cases 5/9/10 (enforce)")

        // 12 (enforce). A revoked agent is refused by the gateway.
        let nonceBeforeRevocation = try await other.nonce().nonce
        try await revoke("agent-002", in: system, reloadedBy: ["collector/collector-1", "gateway/gateway"])
        let revokedEnvelope = try await SignedEnvelope.sign(
            attackClaims(agent: "agent-002", keyHash: otherSigner.publicKeyHash, nonce: nonceBeforeRevocation),
            with: otherSigner)
        let revokedOutcome = try await other.send(revokedEnvelope.serialized(), nonce: nonceBeforeRevocation)
        #expect(
            revokedOutcome.summary == "gateway/agent_verification/agent_revoked",
            "case 12 (enforce, revoked agent): \(revokedOutcome)")
        let after = try await honestEnvelope()
        let afterOutcome = try await honest.send(after.serialized(), nonce: after.claims.nonce)
        #expect(afterOutcome.isReceipt, "case 12 (enforce): honest traffic still flows: \(afterOutcome)")
        if afterOutcome.isReceipt { ledger.accepted(after.claims.nonce) }
        try ledger.check("case 12 (enforce)")

        for link in [honest, other] { await link.close() }
        try await services.stop()
        await monitor.shutdown()
    }
}

/// Revokes `agent` in the shared allowlist file (as `edgeproof allowlist` would) and returns once each of
/// `components` ("collector/collector-1") has published an `allowlist_reloaded` event (they poll the file),
/// read through a monitor connection of its own; after 30 s without one, records a failure and returns.
private func revoke(_ agent: String, in system: SystemFixture, reloadedBy components: [String]) async throws {
    let topics = TopicTree()
    // An identity of its own: the broker makes the certificate CN the client id, so a second "monitor"
    // connection would take the status monitor's session over (and be taken over in turn).
    let watcher = try MQTTClient(configuration: system.broker.clientConfiguration("monitor-events"), logger: system.logger)
    let inbox = Inbox(watcher)
    watcher.start()
    try await watcher.waitUntilConnected(timeout: .seconds(10))
    try await watcher.subscribe("\(topics.prefix)/events/#")

    let file = AllowlistFile(path: system.allowlistPath)
    var allowlist = try file.load()
    try allowlist.setStatus(.revoked, forAgent: agent)
    try file.save(allowlist)

    // Generous: the services run in this test process, whose cooperative pool other suites may keep busy.
    let reloaded = try await Poll.until(timeout: .seconds(30)) {
        components.allSatisfy { component in
            let parts = component.split(separator: "/").map(String.init)
            let topic = topics.events(component: parts[0], id: parts[1])
            return inbox.messages(on: topic).contains {
                (try? JSONDecoder().decode(TrustEvent.self, from: $0.payload))?.kind == "allowlist_reloaded"
            }
        }
    }
    await watcher.shutdown()
    #expect(reloaded, "no allowlist_reloaded event from \(components) within 30 s")
}

/// The nonces a test expects in a collector's records, checked against the records files.
private final class Ledger {
    let system: SystemFixture
    let collector: String
    private(set) var nonces: [String] = []

    init(system: SystemFixture, collector: String) {
        self.system = system
        self.collector = collector
    }

    func accepted(_ nonce: String) { nonces.append(nonce) }

    /// Exactly the accepted envelopes are stored, each once: nothing of an attack.
    func check(_ label: String) throws {
        let stored = try system.records(of: collector).map(\.nonce)
        #expect(stored.sorted() == nonces.sorted(), "\(label): stored records \(stored.count), expected \(nonces.count)")
    }
}
