import EdgeProofCore
import EdgeProofMQTT
import Foundation

/// Load for benchmarks and load tests: a typical envelope (one sample of system metrics, about
/// 600 bytes of claims), and one signed with a real nonce fetched from the collectors.
public enum BenchmarkClaims {
    public static func make(
        agent: String = "bench-agent", keyHash: PublicKeyHash, nonce: String, geolocation: Geolocation? = nil
    ) -> EnvelopeClaims {
        let now = Timestamp.string(from: Date())
        return EnvelopeClaims(
            agentName: agent, publicKeyHash: keyHash, nonce: nonce, timestamp: now,
            geographicRegion: GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
            geolocation: geolocation,
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-bench", version: "1.0.0", instanceID: agent),
                samples: [
                    MetricSample(
                        timestamp: now, metricType: "system",
                        values: ["cpu_percent": 12.5, "memory_used_bytes": 1_234_567_890, "load_average_1m": 0.42])
                ]))
    }

    /// A GNSS fix in central Santa Clara, 5 m at 95 %, taken now: what `bench verify --fence` signs.
    public static func gnssFix() -> Geolocation {
        Geolocation(
            latitude: 37.3541, longitude: -121.9552, altitude: 20, accuracyMeters: 4.9, source: .gnss,
            fixMode: .threeDimensional, fixTime: Timestamp.string(from: Date()), sensor: LocationSensor(driver: "NMEA0183"))
    }

    /// Asks for a nonce on `agent`'s request topic (through `client`, connected with that agent's
    /// certificate) and returns a typical envelope signed with it by the software `signer`.
    public static func signedEnvelope(
        agent: String, client: MQTTClient, signer: SoftwareBenchmarkSigner, topics: TopicTree = TopicTree()
    ) async throws -> (nonce: String, payload: Data) {
        let response = try await client.request(
            MQTTMessage(
                topic: topics.agentNonceRequest(agent), payload: Data("{}".utf8),
                properties: MQTTProperties(responseTopic: topics.agentNonceResponse(agent))),
            timeout: .seconds(10))
        let nonce = try JSONDecoder().decode(NonceResponse.self, from: response.payload).nonce
        let claims = make(agent: agent, keyHash: signer.publicKeyHash, nonce: nonce)
        return (nonce, try await SignedEnvelope.sign(claims, with: signer).serialized())
    }
}
