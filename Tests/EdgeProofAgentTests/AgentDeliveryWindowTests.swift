import EdgeProofAgent
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Synchronization
import Testing

/// The delivery window (`max_in_flight`): several envelopes published before the first receipt, each
/// settled on its own. Real swtpm, real mosquitto, the FakeCloud collector.
@Suite(.serialized, .timeLimit(.minutes(10))) struct AgentDeliveryWindowTests {
    /// Spools `count` one-sample batches, oldest first, as an earlier run would have left them.
    private func spoolBacklog(_ count: Int, _ configuration: AgentConfiguration) async throws -> [String] {
        let spool = try EnvelopeSpool(directory: URL(fileURLWithPath: configuration.spool.directory))
        let start = Date().addingTimeInterval(-60)
        var times: [String] = []
        for index in 0..<count {
            let time = Timestamp.string(from: start.addingTimeInterval(Double(index)))
            times.append(time)
            try await spool.enqueue(EnvelopeSpool.UnsignedBatch(
                geographicRegion: configuration.location, geolocation: configuration.geolocation,
                metrics: MetricsBatch(
                    service: configuration.service,
                    samples: [MetricSample(timestamp: time, metricType: "system", values: ["backlog": .number(1)])])))
        }
        return times
    }

    private func firstSampleTimes(_ cloud: FakeCloud) -> [String] {
        cloud.envelopes.compactMap { $0.envelope.claims.metrics.samples.first?.timestamp }
    }

    @Test func severalEnvelopesAreInFlightBeforeTheFirstReceipt() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        // The collector answers nobody until the fifth envelope has arrived: with one envelope in flight the
        // first would wait for its receipt until the timeout.
        cloud.policy.withLock { $0 = { index, _ in index < 4 ? .hold : .receiptReleasingHeld } }
        // Generous: a loaded CI machine may stall the test process for seconds; the held receipts arrive
        // within milliseconds of the fifth envelope when the window works, never when it does not.
        var configuration = rig.configuration(receiptTimeout: 30)
        configuration.maximumInFlight = 5
        let backlog = try await spoolBacklog(4, configuration)
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)

        let outcome = try await agent.runOnce()
        await cloud.shutdown()

        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome); counters \(agent.counters)")
            return
        }
        #expect(agent.counters["accepted"] == 5)
        #expect(agent.counters["receipt_timeouts"] == nil)
        #expect(await agent.spooledCount() == 0)
        #expect(cloud.envelopes.count == 5)
        // Oldest first on the wire too.
        #expect(Array(firstSampleTimes(cloud).prefix(4)) == backlog)
        #expect(cloud.problems.withLock { $0 }.isEmpty, "\(cloud.problems.withLock { $0 })")
    }

    @Test func aRejectedAndAnUnansweredEnvelopeInTheWindowLoseNoOther() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        cloud.policy.withLock {
            $0 = { index, envelope in
                switch index {
                case 1:
                    .reject(ValidationFailure(
                        .locationNotAllowed, "not allowed", details: ["nonce": .string(envelope.claims.nonce)]))
                case 2: .silence
                default: .receipt
                }
            }
        }
        // One envelope is never answered: the pass waits out its timeout, long enough for the others on a
        // loaded machine.
        let configuration = rig.configuration(receiptTimeout: 8)
        let backlog = try await spoolBacklog(4, configuration)
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)

        let first = try await agent.runOnce()
        #expect(first == .pendingInSpool, "one envelope is still unanswered")
        // Accepted: 0, 3 and the new batch; rejected for good: 1; waiting in the spool: 2.
        #expect(agent.counters["accepted"] == 3)
        #expect(agent.counters["rejected.location_not_allowed"] == 1)
        #expect(agent.counters["receipt_timeouts"] == 1)
        #expect(await agent.spooledCount() == 1)
        let unanswered = try #require(cloud.envelopes.count > 2 ? cloud.envelopes[2].envelope : nil)
        #expect(unanswered.claims.metrics.samples.first?.timestamp == backlog[2])

        // The next pass resends that envelope as it was stored (same nonce, same bytes) before the new batch.
        cloud.policy.withLock { $0 = { _, _ in .receipt } }
        let second = try await agent.runOnce()
        await cloud.shutdown()
        guard case .accepted = second else {
            Issue.record("expected accepted, got \(second); counters \(agent.counters)")
            return
        }
        let envelopes = cloud.envelopes
        #expect(envelopes.count == 7)
        #expect(envelopes.count > 5 && envelopes[5].envelope.claims.nonce == unanswered.claims.nonce)
        #expect(envelopes.count > 5 && envelopes[5].message.payload == cloud.envelopes[2].message.payload)
        #expect(agent.counters["accepted"] == 5)
        #expect(agent.counters["resigned"] == nil)
        #expect(await agent.spooledCount() == 0)
        #expect(cloud.problems.withLock { $0 }.isEmpty, "\(cloud.problems.withLock { $0 })")
    }

    @Test func anExpiredNonceInsideTheWindowIsResignedWhileTheOthersGoOn() async throws {
        let rig = try await Rig.start()
        defer { rig.close() }
        let cloud = try await FakeCloud(broker: rig.broker, publicKey: rig.publicKey)
        cloud.policy.withLock {
            $0 = { index, envelope in
                index == 1
                    ? .reject(ValidationFailure(
                        .nonceExpired, "nonce expired 3 s ago", details: ["nonce": .string(envelope.claims.nonce)]))
                    : .receipt
            }
        }
        let configuration = rig.configuration(receiptTimeout: 30)
        let backlog = try await spoolBacklog(3, configuration)
        let agent = try Agent(configuration: configuration, signer: rig.signer, logger: testLogger)

        let outcome = try await agent.runOnce()
        await cloud.shutdown()

        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome); counters \(agent.counters)")
            return
        }
        #expect(agent.counters["resigned"] == 1)
        #expect(agent.counters["accepted"] == 4)
        #expect(await agent.spooledCount() == 0)
        let envelopes = cloud.envelopes
        #expect(envelopes.count == 5)
        // The refused batch came again, re-signed under a fresh nonce; every batch arrived once accepted.
        let refused = try #require(envelopes.count > 1 ? envelopes[1].envelope : nil)
        let again = envelopes.dropFirst(2).filter { $0.envelope.claims.metrics == refused.claims.metrics }
        #expect(again.count == 1 && again.first?.envelope.claims.nonce != refused.claims.nonce)
        #expect(Set(firstSampleTimes(cloud)).isSuperset(of: backlog))
        for received in envelopes {
            #expect(throws: Never.self) { try received.envelope.verifySignature(with: rig.publicKey) }
        }
        #expect(cloud.problems.withLock { $0 }.isEmpty, "\(cloud.problems.withLock { $0 })")
    }
}
