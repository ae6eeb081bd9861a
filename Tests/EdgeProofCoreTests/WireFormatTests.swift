import Crypto
import EdgeProofCore
import Foundation
import Testing

@Suite("Wire format: rejections, topics, encodings")
struct WireFormatTests {
    @Test("a rejection encodes in the aligned error format with its reason")
    func encodesAlignedRejection() throws {
        let failure = ValidationFailure(.nonceReplayed, "nonce already used", details: ["agent_name": "agent-001"])
        let rejection = Rejection(failure, rejectedBy: .collector, at: Date(timeIntervalSince1970: 1_795_000_000))
        let object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(rejection)) as? [String: Any])
        #expect(object["error"] as? String == "nonce already used")
        #expect(object["rejected_by"] as? String == "collector")
        #expect(object["validation_type"] as? String == "nonce_validation")
        let details = try #require(object["details"] as? [String: Any])
        #expect(details["reason"] as? String == "nonce_replayed")
        #expect(details["agent_name"] as? String == "agent-001")
        #expect(object["timestamp"] as? String == "2026-11-18T11:06:40.000Z")
    }

    @Test("every reason belongs to the validation stage DESIGN.md gives it")
    func reasonsMapToStages() {
        let stages = Dictionary(uniqueKeysWithValues: RejectionReason.all.map { ($0.code, $0.validationType) })
        #expect(stages.count == RejectionReason.all.count, "two reasons share a code")
        #expect(stages["malformed_envelope"] == .requestValidation)
        #expect(stages["agent_revoked"] == .agentVerification)
        #expect(stages["agent_not_attested"] == .agentVerification)
        #expect(stages["unsupported_alg"] == .signatureVerification)
        #expect(stages["nonce_agent_mismatch"] == .nonceValidation)
        #expect(stages["location_not_allowed"] == .geolocationPolicy)
        #expect(stages["timestamp_skew"] == .timestampProximity)
    }

    @Test("topics are built and parsed under the prefix")
    func buildsAndParsesTopics() throws {
        let topics = TopicTree(prefix: "edgeproof/v1/")
        #expect(topics.agentMetrics("agent-001") == "edgeproof/v1/agents/agent-001/metrics")
        #expect(topics.verifiedNonceRequest("a") == "edgeproof/v1/verified/a/nonce/request")
        let parsed = try #require(topics.parse("edgeproof/v1/verified/agent-001/metrics"))
        #expect(parsed.kind == .verifiedMetrics)
        #expect(parsed.agent == "agent-001")
        #expect(topics.parse("edgeproof/v1/agents/+/metrics") == nil)
        #expect(topics.parse("edgeproof/v1/agents/a/metrics/extra") == nil)
        #expect(topics.parse("other/v1/agents/a/metrics") == nil)
    }

    @Test("base64url decoding is strict", arguments: ["AA==", "A", "A+B/", "AB\n", "AB C"])
    func base64URLIsStrict(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test("base64url round-trips every length")
    func base64URLRoundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 251) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == Data(bytes))
        }
    }

    @Test("key hashes parse from hex in either case and print lowercase")
    func keyHashHex() throws {
        let upper = String(repeating: "AB", count: 32)
        let hash = try #require(PublicKeyHash(hex: upper))
        #expect(hash.hex == upper.lowercased())
        #expect(PublicKeyHash(hex: String(repeating: "g", count: 64)) == nil)
        #expect(PublicKeyHash(hex: "abcd") == nil)
    }

    @Test("a key hash holds the SHA-256 of the SubjectPublicKeyInfo, byte for byte, in bytes and hex")
    func keyHashBytes() throws {
        let der = P256.Signing.PrivateKey().publicKey.derRepresentation
        let digest = Array(SHA256.hash(data: der))
        let hash = PublicKeyHash(subjectPublicKeyInfo: der)
        #expect(hash.bytes == digest)
        #expect(hash.hex == digest.map { String(format: "%02x", $0) }.joined())
        #expect(PublicKeyHash(hex: hash.hex) == hash)
        #expect(PublicKeyHash(hex: hash.hex.uppercased()) == hash)
        let json = try JSONEncoder().encode([hash])
        #expect(try JSONDecoder().decode([PublicKeyHash].self, from: json) == [hash])
        #expect(Set([hash, PublicKeyHash(subjectPublicKeyInfo: der)]).count == 1)
    }

    @Test("timestamps carry milliseconds in UTC and parse back")
    func timestamps() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.125)
        let text = Timestamp.string(from: date)
        #expect(text == "2026-11-18T11:06:40.125Z")
        let parsed = try #require(Timestamp.date(from: text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.001)
        #expect(Timestamp.date(from: "2026-11-18T11:06:40Z") != nil)
        #expect(Timestamp.date(from: "yesterday") == nil)
    }

    @Test("agent names are safe as topic levels, CNs and file names", arguments: [
        ("agent-001", true), ("edge.box_7", true), ("a/b", false), ("+", false), ("#", false), ("", false),
        ("-x", false), (".hidden", false), (String(repeating: "a", count: 65), false), ("ägent", false),
    ])
    func validatesAgentNames(name: String, valid: Bool) {
        #expect(AgentName.isValid(name) == valid)
    }
}
