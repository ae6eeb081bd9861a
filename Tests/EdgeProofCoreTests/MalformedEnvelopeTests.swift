import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@Suite("Malformed input: every bad envelope is refused with its reason, quickly, without a crash")
struct MalformedEnvelopeTests {
    static let corpus = BadPayloads()

    @Test("the generator is deterministic, distinct and large")
    func generatorIsDeterministic() {
        let again = BadPayloads()
        #expect(Self.corpus.payloads.count >= 10_000)
        #expect(Set(Self.corpus.payloads.map(\.bytes)).count == Self.corpus.payloads.count)
        #expect(again.payloads == Self.corpus.payloads)
        #expect(BadPayloads(seed: 7).payloads != Self.corpus.payloads)
    }

    @Test("the generator's templates are well-formed envelopes, so its mutations test one thing each")
    func templatesParse() throws {
        for template in Self.corpus.templates {
            let envelope = try SignedEnvelope(parsing: template)
            #expect(envelope.claims.agentName == "agent-001")
        }
    }

    @Test(
        "other agents' corpora are refused the same way",
        arguments: [("agent-attacker", "0f"), ("a", "9e"), ("edge.node_7", "00")])
    func rejectsOtherCorpora(agent: String, keyByte: String) {
        let corpus = BadPayloads(seed: 99, agentName: agent, keyHash: String(repeating: keyByte, count: 32))
        var wrong: [String] = []
        for payload in corpus.payloads {
            do {
                _ = try SignedEnvelope(parsing: payload.bytes)
                wrong.append("\(payload.category): parsed")
            } catch {
                if error.reason != payload.expected { wrong.append("\(payload.category): \(error)") }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
    }

    @Test("every generated bad payload throws the expected request_validation (or category) failure")
    func rejectsEveryBadPayload() {
        let clock = ContinuousClock()
        let start = clock.now
        var wrong: [String] = []
        var byReason: [String: Int] = [:]
        for (index, payload) in Self.corpus.payloads.enumerated() {
            do {
                _ = try SignedEnvelope(parsing: payload.bytes)
                wrong.append("#\(index) \(payload.category) (\(payload.bytes.count) bytes): parsed")
            } catch {
                byReason[error.reason.code, default: 0] += 1
                if error.reason != payload.expected {
                    wrong.append("#\(index) \(payload.category): \(error) instead of \(payload.expected)")
                }
                // The answer never echoes a large part of the input.
                if error.message.utf8.count > 512 {
                    wrong.append("#\(index) \(payload.category): message of \(error.message.utf8.count) bytes")
                }
            }
        }
        let elapsed = clock.now - start
        #expect(wrong.isEmpty, "\(wrong.count) wrong, first: \(wrong.prefix(25).joined(separator: "\n"))")
        #expect(byReason["malformed_envelope", default: 0] > 9_000)
        #expect(byReason["payload_too_large", default: 0] >= 6)
        #expect(byReason["unsupported_alg", default: 0] >= 7)
        #expect(elapsed < .seconds(60), "parsing the corpus took \(elapsed)")
        print("bad payloads: \(Self.corpus.payloads.count), by reason \(byReason), in \(elapsed)")
    }
}

@Suite("The nesting pre-scan")
struct JSONNestingTests {
    @Test("counts brackets outside strings only, escaped quotes included")
    func countsStructureOnly() {
        let deepText = "\"" + String(repeating: "[{", count: 100) + #"\"["# + "\""
        #expect(!JSONNesting.exceeds(in: Array("[\(deepText)]".utf8)))
        #expect(JSONNesting.exceeds(in: Array((String(repeating: "[", count: 65) + String(repeating: "]", count: 65)).utf8)))
        #expect(!JSONNesting.exceeds(in: Array((String(repeating: "[", count: 64) + String(repeating: "]", count: 64)).utf8)))
        #expect(!JSONNesting.exceeds(in: Array(#"{"a":[{"b":"}}}}]]]["}]}"#.utf8)))
    }
}

@Suite("Malformed user properties")
struct MalformedPropertiesTests {
    @Test("a Workload-Geo-ID that is not the expected JSON is a header mismatch, however deep or odd")
    func rejectsMalformedWorkloadGeoID() async throws {
        let signer = try TestSigner.make(.es256)
        let envelope = try await SignedEnvelope.sign(Fixtures.claims(keyHash: signer.publicKeyHash), with: signer)
        let values = [
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
            String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000),
            String(repeating: "[", count: 100_000), String(repeating: "[", count: 513),
            String(repeating: #"{"a":"#, count: 512) + "{", "1e400", "", "null", "[]", #"{"client_workload_id":1}"#,
            String(decoding: [0xFF, 0xFE], as: UTF8.self),
        ]
        for value in values {
            let reason = failureReason { () throws(ValidationFailure) in
                try envelope.checkProperties([(name: EnvelopeProperty.workloadGeoID, value: value)])
            }
            #expect(reason == .headerMismatch, "\(value.prefix(20))")
        }
    }
}

extension MalformedPropertiesTests {
    @Test("5,000 mutated and random Signature-Input and Workload-Geo-ID values: a header mismatch or a match, never a crash")
    func survivesMutatedProperties() async throws {
        let signer = try TestSigner.make(.es256)
        let envelope = try await SignedEnvelope.sign(Fixtures.claims(keyHash: signer.publicKeyHash), with: signer)
        let originals = [
            (EnvelopeProperty.signatureInput, SignatureInput(envelope: envelope, nonceExpiresAt: Date()).headerValue),
            (EnvelopeProperty.workloadGeoID, WorkloadGeoID(claims: envelope.claims).headerValue),
        ]
        let alphabet = Array(#"=,"{}[]:0123456789-+e.abcdefkyidn \"#.utf8) + [0xFF, 0x00, 0x0A]
        var random = SplitMix64(seed: 42)
        var outcomes: [String: Int] = [:]
        for round in 0..<2500 {
            for (name, original) in originals {
                var bytes = Array(original.utf8)
                switch round % 4 {
                case 0: bytes = random.bytes(Int.random(in: 0...600, using: &random))
                case 1: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
                default:
                    for _ in 0...Int.random(in: 0...5, using: &random) where !bytes.isEmpty {
                        let index = Int.random(in: 0..<bytes.count, using: &random)
                        bytes[index] = alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                    }
                }
                let value = String(decoding: bytes, as: UTF8.self)
                let reason = failureReason { () throws(ValidationFailure) in
                    try envelope.checkProperties([(name: name, value: value)])
                }
                outcomes[reason?.code ?? "match", default: 0] += 1
                if let reason { #expect(reason == .headerMismatch) }
                // (A mutation may still match: only the members that copy signed content are compared.)
            }
        }
        #expect(outcomes["header_mismatch", default: 0] > 4_000, "\(outcomes)")
    }
}
