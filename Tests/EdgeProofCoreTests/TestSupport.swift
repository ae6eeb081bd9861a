import Crypto
import EdgeProofCore
import Foundation
import _CryptoExtras

enum Fixtures {
    static let santaClara = GeographicRegion(region: "US", state: "California", city: "Santa Clara")

    static func claims(
        agent: String = "agent-001", keyHash: PublicKeyHash, nonce: String = "test-nonce",
        region: GeographicRegion = santaClara, samples: Int = 1, at date: Date = Date()
    ) -> EnvelopeClaims {
        let stamp = Timestamp.string(from: date)
        return EnvelopeClaims(
            agentName: agent, publicKeyHash: keyHash, nonce: nonce, timestamp: stamp,
            geographicRegion: region,
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: agent),
                samples: (0..<samples).map { index in
                    MetricSample(
                        timestamp: stamp, metricType: "system",
                        values: ["cpu_percent": .number(Double(index)), "memory_used_bytes": 1_048_576])
                }))
    }

    /// Rebuilds a flattened JWS from parts, for tampering tests.
    static func envelopeJSON(protected: String, payload: String, signature: String) -> Data {
        Data(#"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(signature)"}"#.utf8)
    }

    static func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}

/// The reason a validation step failed with, or nil if it passed.
func failureReason(_ body: () throws(ValidationFailure) -> Void) -> RejectionReason? {
    do {
        try body()
        return nil
    } catch {
        return error.reason
    }
}
