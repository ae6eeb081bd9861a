import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import EdgeProofService
import Logging
import Metrics
import ServiceLifecycle

/// The site bridge: the gateway between its site's broker (`broker:`) and the central broker
/// (`upstream:`).
///
/// Up: agent nonce requests and envelopes from the site, decided as on one broker (forwarded
/// unchanged in passthrough mode, checked in enforce mode), are stored in the `up` queue and released
/// upstream to `verified/…`, paced; the agents' retained status goes up as it is. Down: the nonce responses, receipts and rejections that the
/// collectors publish upstream for the site's agents are stored in the `down` queue and released to
/// the agents' own topics at the site; the gateway's own rejections go the same way. A message is
/// durable in its queue before it is released, and leaves the queue once the other broker acknowledged
/// it (PUBACK), in order.
///
/// libmosquitto acknowledges an incoming QoS 1 message when it arrives, before the queue's fsync: a
/// crash in that window loses those messages at the gateway. The agents' end-to-end receipts cover it:
/// an agent keeps every batch in its own spool until a collector's receipt arrives and asks again for
/// a nonce that does not come, so the loss costs a resend, not data.
extension Gateway {
    /// The answer topics that come down to the site.
    static let answerKinds: Set<TopicTree.Kind> = [.agentNonceResponse, .agentReceipts, .agentRejections]
    /// How long a stopping bridge waits for acknowledgements of messages in flight (the rest are sent
    /// again after the restart).
    static let relayStopGrace: Duration = .seconds(2)
    /// How often the queues' cursors are made durable.
    static let checkpointInterval: Duration = .milliseconds(500)

    func runRelay(_ relay: SiteRelay, upstream: any MQTTTransport) async {
        // Registered before the clients connect: sent with the first connection, before anything waits.
        await subscribe()
        do {
            _ = try await client.subscribe(topics.allAgentStatus)
        } catch {
            logger.error("cannot subscribe to the agents' status", metadata: ["error": "\(error)"])
        }
        await withTaskGroup(of: Void.self) { group in
            for agent in relay.agents.sorted() {
                group.addTask { await self.subscribeAnswers(for: agent, relay, upstream) }
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.publishStatusPeriodically() }
            if let watcher = allowlistWatcher {
                group.addTask { await self.publishAllowlistEvents(watcher) }
            }
            group.addTask { await self.checkpointPeriodically(relay) }
            group.addTask {
                await self.release(
                    relay.up, to: upstream, direction: "up",
                    pacing: relay.settings.releasePerSecond > 0
                        ? TokenBucket(rate: relay.settings.releasePerSecond, burst: relay.settings.burst) : nil)
            }
            group.addTask { await self.release(relay.down, to: self.client, direction: "down", pacing: nil) }
            group.addTask { await self.relayAnswers(from: upstream, relay) }
            await relayFromSite(relay, upstream: upstream)
            // Stopping: the intake has ended; let the messages in flight be acknowledged, briefly.
            let deadline = ContinuousClock.now + Self.relayStopGrace
            while ContinuousClock.now < deadline, await relay.up.depth.inFlight + relay.down.depth.inFlight > 0 {
                try? await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
        for (queue, direction) in [(relay.up, "up"), (relay.down, "down")] {
            do {
                try await queue.close()
            } catch {
                logger.error("cannot close the relay queue", metadata: ["direction": "\(direction)", "error": "\(error)"])
            }
        }
    }

    // MARK: - Intake

    /// Site → queues: every agent message decided as on one broker; forwards and events go up, the
    /// gateway's rejections down. A batch is stored with one fsync per queue.
    private func relayFromSite(_ relay: SiteRelay, upstream: any MQTTTransport) async {
        for await batch in client.messages.batches.cancelOnGracefulShutdown() {
            let now = Date()
            var up: [RelayedMessage] = []
            var down: [RelayedMessage] = []
            var agents: Set<String> = []
            for message in batch {
                // The agents' retained status (and their wills) go up as they are, for monitoring there.
                if topics.agentOfStatus(message.topic) != nil {
                    var status = upward(message, relay)
                    status.retain = true
                    up.append(status)
                    continue
                }
                for outgoing in handle(message, now: now) {
                    switch outgoing.purpose {
                    case .forward:
                        if let (_, agent) = topics.parse(outgoing.message.topic) { agents.insert(agent) }
                        counted.forwarded.increment()
                        up.append(upward(outgoing.message, relay))
                    case .event:
                        up.append(upward(outgoing.message, relay))
                    case .rejection:
                        down.append(RelayedMessage(outgoing.message))
                    }
                }
            }
            // Before anything of a new agent goes up: its answers must have somewhere to come back to.
            await follow(agents, relay, upstream)
            await store(up, in: relay.up, direction: "up")
            await store(down, in: relay.down, direction: "down")
        }
    }

    /// Upstream → down queue: answers for the site's agents, retargeted to their topics at the site.
    private func relayAnswers(from upstream: any MQTTTransport, _ relay: SiteRelay) async {
        for await batch in upstream.messages.batches {
            var down: [RelayedMessage] = []
            for message in batch {
                guard let (kind, agent) = relay.upstream.parse(message.topic), Self.answerKinds.contains(kind),
                    relay.isFollowing(agent), let topic = topics.retarget(message.topic, from: relay.upstream)
                else {
                    metrics.count("relay.down.unexpected")
                    logger.notice("unexpected message from upstream", metadata: ["topic": "\(message.topic.prefix(200))"])
                    continue
                }
                var relayed = RelayedMessage(message)
                relayed.topic = topic
                relayed.retain = false
                down.append(relayed)
            }
            await store(down, in: relay.down, direction: "down")
        }
    }

    /// A message of the site's tree as it goes upstream: its topic and Response Topic under the
    /// upstream prefix.
    func upward(_ message: MQTTMessage, _ relay: SiteRelay) -> RelayedMessage {
        var relayed = RelayedMessage(message)
        relayed.topic = relay.upstream.retarget(message.topic, from: topics) ?? message.topic
        if let responseTopic = relayed.responseTopic {
            relayed.responseTopic = relay.upstream.retarget(responseTopic, from: topics) ?? responseTopic
        }
        return relayed
    }

    /// Stores messages durably; a failed write is counted and logged (the agents' receipts make up for it).
    func store(_ messages: [RelayedMessage], in queue: RelayQueue<RelayedMessage>, direction: String) async {
        guard !messages.isEmpty else { return }
        do {
            try await queue.append(messages)
            logger.trace("stored relayed messages", metadata: ["direction": "\(direction)", "count": "\(messages.count)"])
        } catch {
            metrics.count("relay.\(direction).dropped.store_failed", by: messages.count)
            logger.error(
                "cannot store relayed messages; dropped",
                metadata: ["direction": "\(direction)", "count": "\(messages.count)", "error": "\(error)"])
        }
    }

    /// Remembers new agents and subscribes to their answers upstream. A SUBSCRIBE is on the wire before
    /// anything released after it, and renewed on every connection; its SUBACK is awaited briefly only,
    /// so a stalled uplink does not hold up the site.
    private func follow(_ agents: Set<String>, _ relay: SiteRelay, _ upstream: any MQTTTransport) async {
        guard !agents.isEmpty else { return }
        let new: Set<String>
        logger.trace("following the site's agents", metadata: ["agents": "\(agents.sorted())"])
        do {
            new = try relay.follow(agents)
        } catch {
            logger.error("cannot remember the site's agents", metadata: ["error": "\(error)"])
            return
        }
        await withTaskGroup(of: Void.self) { group in
            for agent in new {
                group.addTask { await self.subscribeAnswers(for: agent, relay, upstream) }
            }
        }
    }

    private func subscribeAnswers(for agent: String, _ relay: SiteRelay, _ upstream: any MQTTTransport) async {
        for filter in relay.answerFilters(for: agent) {
            do {
                try await withTimeout(.seconds(1), "subscribe to \(filter)") { _ = try await upstream.subscribe(filter) }
            } catch let error as MQTTError where error.isTimeout {
                continue  // registered; the SUBACK comes with the connection
            } catch is CancellationError {
                return
            } catch {
                logger.error("cannot subscribe upstream", metadata: ["filter": "\(filter)", "error": "\(error)"])
            }
        }
    }

    // MARK: - Release

    /// Sends a queue's messages in order to `transport`, one batch at a time (at most
    /// ``maximumPublishesInFlight`` messages, handed to libmosquitto together and acknowledged
    /// together; one batch at a time keeps the order across batches), paced by `pacing`; acknowledged
    /// ones leave the queue. A message whose MQTT expiry passed in the queue is dropped (`expired`), one
    /// the broker refuses too (`refused`).
    private func release(
        _ queue: RelayQueue<RelayedMessage>, to transport: any MQTTTransport, direction: String, pacing: TokenBucket?
    ) async {
        var pacing = pacing
        let relayed = metrics.counter("relayed_\(direction)")
        var arrivals = queue.arrivals.makeAsyncIterator()
        while !Task.isCancelled {
            var room = Self.maximumPublishesInFlight
            if var bucket = pacing {
                let tokens = bucket.available()
                pacing = bucket
                if tokens < 1 {
                    try? await Task.sleep(for: bucket.untilNext)
                    continue
                }
                room = min(room, tokens)
            }
            let items = await queue.take(max: room)
            guard !items.isEmpty else {
                guard await arrivals.next() != nil else { break }
                continue
            }
            // Expired messages are dropped without spending the pace: only what is sent counts.
            let sent = await publish(items, from: queue, to: transport, direction: direction, relayed: relayed)
            pacing?.spend(sent)
        }
    }

    /// Publishes `items` (less the expired ones) and settles them in the queue; returns how many were sent.
    private func publish(
        _ items: [RelayQueue<RelayedMessage>.Item], from queue: RelayQueue<RelayedMessage>,
        to transport: any MQTTTransport, direction: String, relayed: Counter
    ) async -> Int {
        let now = Date()
        var messages: [MQTTMessage] = []
        var sequences: [UInt64] = []
        var expired: [UInt64] = []
        for item in items {
            if let message = item.element.message(after: now.timeIntervalSince(item.enqueuedAt)) {
                messages.append(message)
                sequences.append(item.sequence)
            } else {
                expired.append(item.sequence)
            }
        }
        await queue.drop(expired, reason: "expired")
        guard !messages.isEmpty else { return 0 }
        let outcomes: [MQTTError?]
        do {
            outcomes = try await transport.publish(contentsOf: messages)
        } catch {
            return messages.count  // stopping: they stay in the queue and are sent again after the restart
        }
        var done: [UInt64] = []
        var refused: [UInt64] = []
        var retry: [UInt64] = []
        for (sequence, (message, outcome)) in zip(sequences, zip(messages, outcomes)) {
            guard let outcome else {
                done.append(sequence)
                continue
            }
            if !outcome.isTransient {
                refused.append(sequence)
                logger.warning(
                    "relayed message refused; dropped",
                    metadata: ["direction": "\(direction)", "topic": "\(message.topic)", "error": "\(outcome)"])
            } else {
                retry.append(sequence)
            }
        }
        await queue.complete(done)
        logger.trace("released relayed messages", metadata: ["direction": "\(direction)", "count": "\(done.count)"])
        await queue.drop(refused, reason: "refused")
        if !done.isEmpty { relayed.increment(by: done.count) }
        if !retry.isEmpty {
            logger.notice("relayed messages not taken; retrying", metadata: ["direction": "\(direction)", "count": "\(retry.count)"])
            try? await Task.sleep(for: .milliseconds(200))
            await queue.putBack(retry)
        }
        return messages.count
    }

    private func checkpointPeriodically(_ relay: SiteRelay) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.checkpointInterval)
            for (queue, direction) in [(relay.up, "up"), (relay.down, "down")] {
                do {
                    try await queue.checkpoint()
                } catch {
                    logger.warning("cannot checkpoint the relay queue", metadata: ["direction": "\(direction)", "error": "\(error)"])
                }
            }
        }
    }
}
