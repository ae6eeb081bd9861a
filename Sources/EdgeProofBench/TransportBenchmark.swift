import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofService
import Foundation
import Logging

/// `edgeproof bench transport`: bare MQTT, QoS 1 messages through a local mosquitto with mutual TLS (started on a
/// free port of 127.0.0.1 and stopped afterwards), one publisher client to one subscriber; the rate is from the
/// first publish to the last message received.
public struct TransportBenchmark: Sendable {
    public var count: Int
    /// Payload size in bytes.
    public var size: Int
    /// Publishing tasks, each awaiting its PUBACKs in turn.
    public var publishers: Int

    public init(count: Int = 20_000, size: Int = 600, publishers: Int = 64) {
        self.count = count
        self.size = size
        self.publishers = publishers
    }

    /// Runs the benchmark and prints the rate and the figures.
    public func runAndPrint() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let figures = try await measure(broker)
        print(
            "Bare transport: \(count) QoS 1 messages of \(size) bytes, one publisher client, one subscriber, "
                + "TLS broker")
        print(
            TextTable(
                header: ["MESSAGES", "BYTES", "MSG/S"],
                rows: [["\(count)", "\(size)", format(figures["transport_per_s"] ?? 0)]]
            ).rendered)
        print(try jsonLine(figures))
    }

    private func measure(_ broker: MosquittoBroker) async throws -> [String: Double] {
        var quiet = Logger(label: "edgeproof.bench")
        quiet.logLevel = .error
        func client(_ identity: String) throws -> MQTTClient {
            try MQTTClient(
                configuration: MQTTConfiguration(
                    port: Int(broker.port), clientID: "bench-\(identity)", caFile: broker.caFile,
                    certificateFile: broker.certificate(for: identity), keyFile: broker.key(for: identity),
                    cleanStart: true, maximumPendingPublishes: 1000),
                logger: quiet)
        }
        let subscriber = try client("collector-1")
        let publisher = try client("gateway")
        subscriber.start()
        publisher.start()
        do {
            let figures = try await exchange(from: publisher, to: subscriber)
            await publisher.shutdown()
            await subscriber.shutdown()
            return figures
        } catch {
            await publisher.shutdown()
            await subscriber.shutdown()
            throw error
        }
    }

    private func exchange(from publisher: MQTTClient, to subscriber: MQTTClient) async throws -> [String: Double] {
        try await subscriber.waitUntilConnected(timeout: .seconds(10))
        try await publisher.waitUntilConnected(timeout: .seconds(10))
        try await subscriber.subscribe("edgeproof/v1/verified/+/metrics")

        let message = MQTTMessage(
            topic: "edgeproof/v1/verified/bench/metrics", payload: Data(repeating: 0x61, count: size))
        let clock = ContinuousClock()
        let start = clock.now
        let (count, publishers) = (count, max(1, publishers))
        async let received: Int = {
            var seen = 0
            for await _ in subscriber.messages {
                seen += 1
                if seen == count { break }
            }
            return seen
        }()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<publishers {
                group.addTask {
                    for _ in stride(from: worker, to: count, by: publishers) { try await publisher.publish(message) }
                }
            }
            try await group.waitForAll()
        }
        guard await received == count else { throw BenchmarkError("the subscriber did not receive every message") }
        let elapsed = clock.now - start
        return [
            "transport_per_s": (Double(count) / seconds(elapsed)).rounded(), "count": Double(count),
            "size_bytes": Double(size),
        ]
    }
}
