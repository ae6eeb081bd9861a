import EdgeProofMQTT
import EdgeProofTesting
import Foundation
import Testing

/// Benches give thousands of simulated agents a certificate each: issued in-process under the broker's CA.
@Suite("Fleet certificates issued in-process", .timeLimit(.minutes(2)))
struct FleetCertificateTests {
    @Test("an agent whose certificate was issued in-process is an agent to the broker: its own topics only")
    func issuedCertificatesWorkLikeGenCerts() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway"], fleet: ["fleet-0001", "fleet-0002"])
        defer { broker.close() }
        let verify = try await ProcessRunner.run(
            "openssl", ["verify", "-CAfile", broker.caFile, broker.certificate(for: "fleet-0001")])
        #expect(verify.status == 0, "openssl verify: \(verify.output) \(verify.standardError)")
        let subject = try await ProcessRunner.run(
            "openssl", ["x509", "-in", broker.certificate(for: "fleet-0002"), "-noout", "-subject", "-nameopt", "RFC2253"])
        #expect(subject.output.trimmingCharacters(in: .whitespacesAndNewlines) == "subject=CN=fleet-0002")

        let client = try await broker.connectedClient("fleet-0001", clientID: "fleet-0001")
        try await client.publish(
            MQTTMessage(topic: "\(prefix)/agents/fleet-0001/metrics", payload: Data("{}".utf8), qos: .atLeastOnce))
        await #expect(throws: MQTTError.self) {
            try await client.publish(
                MQTTMessage(topic: "\(prefix)/agents/fleet-0002/metrics", payload: Data("{}".utf8), qos: .atLeastOnce))
        }
        await client.shutdown()
    }
}
