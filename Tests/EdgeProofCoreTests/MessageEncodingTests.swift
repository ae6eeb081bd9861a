import EdgeProofCore
import Foundation
import Testing

/// Receipts, trust events and rejections are written without `JSONEncoder`; these hold them byte for byte
/// to what `JSONEncoder` makes of the same values with the contract's options.
@Suite("Receipt, event and rejection JSON")
struct MessageEncodingTests {
    private static func referenceJSON(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static let details: [[String: JSONValue]] = [
        [:],
        [
            "nonce": .string("AQAAAZNk8x2y3Jw5cQ-8_pVzJ7R0o9xq1vX0b7T6y0nJ8hZ2"),
            "kid": .string(String(repeating: "ab", count: 32)), "samples": .number(1),
            "stored_at": .string("2026-11-21T10:00:00.123Z"),
        ],
        [
            "numbers": .array([
                .number(0), .number(-3), .number(1.5), .number(1e20), .number(0.1), .number(12_345_678_901),
            ]),
            "text": .string("quote \" backslash \\ slash / newline \n tab \t bell \u{07} é 漢 🙂"),
            "nested": .object(["b": .bool(true), "a": .null, "Z": .array([]), "é": .object([:])]),
            "flag": .bool(false),
        ],
    ]

    @Test("a receipt is written as JSONEncoder writes it")
    func receiptMatchesEncoder() throws {
        for receipt in [
            Receipt(nonce: "n-1", collector: "collector-1", storedAt: "2026-11-21T10:00:00.123Z"),
            Receipt(nonce: "weird \"nonce\" / \\", collector: "collector-é", storedAt: ""),
        ] {
            #expect(receipt.jsonData() == (try Self.referenceJSON(receipt)))
        }
    }

    @Test("trust events, with and without agent and rejection, are written as JSONEncoder writes them")
    func eventsMatchEncoder() throws {
        let rejection = Rejection(
            ValidationFailure(.nonceReplayed, "nonce was already used", details: ["expires_at": .string("2026")]),
            rejectedBy: .collector, at: Date(timeIntervalSince1970: 1_795_000_000))
        for details in Self.details {
            for agent in [nil, "agent-001"] {
                for attached in [nil, rejection] {
                    let event = TrustEvent(
                        timestamp: "2026-11-21T10:00:00.123Z", component: "collector", id: "collector-1",
                        kind: attached == nil ? "accepted" : "rejection", agentName: agent, rejection: attached,
                        details: details)
                    #expect(try event.jsonData() == (try Self.referenceJSON(event)), "\(details) \(agent ?? "-")")
                }
            }
        }
    }

    @Test("a rejection is written as JSONEncoder writes it")
    func rejectionMatchesEncoder() throws {
        for details in Self.details {
            let rejection = Rejection(
                ValidationFailure(.badSignature, "signature does not verify", details: details), rejectedBy: .gateway,
                at: Date(timeIntervalSince1970: 1_795_000_000.5))
            #expect(try rejection.jsonData() == (try Self.referenceJSON(rejection)))
        }
    }

    @Test("a value JSON cannot carry fails as it does with JSONEncoder")
    func nonFiniteNumbersThrow() {
        let event = TrustEvent(
            timestamp: "t", component: "collector", id: "c", kind: "k", details: ["x": .number(.infinity)])
        #expect(throws: (any Error).self) { try event.jsonData() }
    }
}

@Suite("Receipt parsing")
struct ReceiptParsingTests {
    @Test("a receipt reads back as JSONDecoder reads it; anything else is not a receipt")
    func parsesAsDecoderDoes() throws {
        let receipt = Receipt(nonce: "n-1", collector: "collector-1", storedAt: "2026-11-21T10:00:00.123Z")
        #expect(Receipt(parsing: receipt.jsonData()) == receipt)
        let payloads = [
            #"{"stored_at":"s","status":"accepted","nonce":"n\u00e9","collector":"c","extra":[1,{"a":null}]}"#,
            #" { "collector" : "c", "nonce" : "n", "status" : "other", "stored_at" : "s" } "#,
        ]
        for payload in payloads.map({ Data($0.utf8) }) {
            #expect(Receipt(parsing: payload) == (try JSONDecoder().decode(Receipt.self, from: payload)))
        }
        for junk in [
            #"{"nonce":"n"}"#, "[]", "", #"{"collector":"c","nonce":1,"status":"s","stored_at":"s"}"#,
            #"{"collector":"c","nonce":"n","nonce":"m","status":"accepted","stored_at":"s"}"#,
            #"{"collector":"c","nonce":"n","status":"accepted","stored_at":"s",}"#,
            #"{"collector":"c","nonce":"n","status":"accepted","stored_at":"s","n\u006fnce":"m"}"#,
        ] {
            #expect(Receipt(parsing: Data(junk.utf8)) == nil, "\(junk)")
        }
    }

    @Test("rejections and nonce responses the agent acts on are read strictly")
    func readsAgentAnswersStrictly() throws {
        let rejection = Rejection(
            ValidationFailure(.nonceReplayed, "used", details: ["stored_at": "t", "n": [1, 2.5, ["x": nil]]]),
            rejectedBy: .collector, at: Date())
        let payload = try rejection.jsonData()
        #expect(try Rejection(strictJSON: payload) == rejection)
        #expect(try Rejection(strictJSON: payload) == JSONDecoder().decode(Rejection.self, from: payload))
        let text = String(decoding: payload, as: UTF8.self)
        for bad in [
            text.replacingOccurrences(of: #""rejected_by":"collector""#, with: #""rejected_by":"collector","rejected_by":"gateway""#),
            text.replacingOccurrences(of: #""reason":"nonce_replayed""#, with: #""reason":"nonce_replayed","reason":"x""#),
            String(text.dropLast()) + ",}",
        ] {
            #expect(throws: JSONRefusal.self) { try Rejection(strictJSON: Array(bad.utf8)) }
        }
        let response = NonceResponse(nonce: "n", expiresAt: "2026-11-21T10:00:00.123Z")
        #expect(try NonceResponse(strictJSON: try WireJSON.encode(response)) == response)
        #expect(throws: JSONRefusal.self) { try NonceResponse(strictJSON: Array(#"{"nonce":"n","expires_at":"t","nonce":"m"}"#.utf8)) }
        #expect(NonceRequest.check(Data()) == nil)
        #expect(NonceRequest.check(try WireJSON.encode(NonceRequest(agentName: "a"))) == nil)
        #expect(NonceRequest.check(Data(#"{"agent_name":"a","agent_name":"b"}"#.utf8))?.reason == .malformedEnvelope)
        #expect(NonceRequest.check(Data(#"{"#.utf8))?.reason == .malformedEnvelope)
    }
}
