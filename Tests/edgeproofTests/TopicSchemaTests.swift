import Crypto
import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

/// The JSON Schemas in topics/ are the published contract; what the Swift code produces must pass them.
@Suite("Topic schemas")
struct TopicSchemaTests {
    @Test("schemas, examples and counter-examples check out, and Swift-made envelopes, claims and rejections validate")
    func swiftMessagesMatchSchemas() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let signer = TestSigner()
        let authority = NonceAuthority(keyring: try NonceKeyring(current: NonceKey.random(id: 1)))
        let nonce = authority.issue(for: signer.publicKeyHash)
        let now = Timestamp.string(from: Date())
        let claims = EnvelopeClaims(
            agentName: "agent-001", publicKeyHash: signer.publicKeyHash, nonce: nonce.token, timestamp: now,
            geographicRegion: GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS", type: "precise"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-agent", version: "1.0.0", instanceID: "agent-001"),
                samples: [MetricSample(timestamp: now, metricType: "system", values: ["cpu_percent": 3.5])]))
        let envelope = try await SignedEnvelope.sign(claims, with: signer)
        let rejection = Rejection(
            ValidationFailure(.nonceExpired, "nonce expired 3 s ago", details: ["expires_at": .string(now)]),
            rejectedBy: .collector, at: Date())

        let files: [(kind: String, data: Data)] = [
            ("envelope", envelope.serialized()),
            ("claims", try #require(Base64URL.decode(envelope.payload))),
            ("protected-header", try #require(Base64URL.decode(envelope.protected))),
            ("rejection", try JSONEncoder().encode(rejection)),
        ]
        var arguments = [PackagePaths.script("topics/check-schemas.py")]
        for (index, file) in files.enumerated() {
            let url = directory.appending("\(index)-\(file.kind).json")
            try file.data.write(to: url)
            arguments.append("\(file.kind)=\(url.path)")
        }
        let result = try await ProcessRunner.run("python3", arguments)
        #expect(result.status == 0, "\(result.output)\(result.standardError)")
    }
}
