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
        ] + (try Self.enrollmentMessages())
        var arguments = [PackagePaths.script("topics/check-schemas.py")]
        for (index, file) in files.enumerated() {
            let url = directory.appending("\(index)-\(file.kind).json")
            try file.data.write(to: url)
            arguments.append("\(file.kind)=\(url.path)")
        }
        let result = try await ProcessRunner.run("python3", arguments)
        #expect(result.status == 0, "\(result.output)\(result.standardError)")
    }

    /// Swift-made enrollment messages of every type (binary fields are placeholders: the schema checks shapes).
    static func enrollmentMessages() throws -> [(kind: String, data: Data)] {
        let bytes = Data(repeating: 0xA5, count: 48).base64EncodedString()
        let vendor = TPMVendorInfo(
            manufacturer: "IBM", manufacturerID: "id:49424D00", vendorString: "SW TPM", firmwareVersion: [1, 2],
            specificationRevision: 164)
        let begin = EnrollmentRequest.begin(
            EnrollmentBegin(
                agentName: "agent-001", ekCertificate: nil, ekPublic: bytes, akPublic: bytes, signingKeyPublic: bytes,
                tpmVendor: vendor, requestedPlaces: [AllowedPlace(region: "US", state: "California")]))
        let finish = EnrollmentRequest.finish(
            EnrollmentFinish(
                agentName: "agent-001", token: "AbC_-9", activationProof: bytes,
                certify: .init(attest: bytes, signature: bytes), quote: .init(attest: bytes, signature: bytes),
                pcrValues: ["0": String(repeating: "00", count: 32)], executableDigest: String(repeating: "ab", count: 32),
                kernelRelease: "6.1.0-13-amd64"))
        let challenge = EnrollmentResponse.challenge(
            EnrollmentChallenge(
                credentialBlob: bytes, encryptedSecret: bytes, certifyNonce: bytes, token: "AbC_-9", pcrs: [0, 7]))
        let refused = EnrollmentResponse.result(
            EnrollmentResult(
                status: .refused,
                rejection: Rejection(
                    ValidationFailure(.ekCertificateUntrusted, "no chain"), rejectedBy: .registrar, at: Date())))
        let approved = EnrollmentResponse.result(EnrollmentResult(status: .approved, trustLevel: .tpmEKCert))
        return [
            ("enroll-request", try begin.jsonData()), ("enroll-request", try finish.jsonData()),
            ("enroll-response", try challenge.jsonData()), ("enroll-response", try refused.jsonData()),
            ("enroll-response", try approved.jsonData()),
        ]
    }
}
