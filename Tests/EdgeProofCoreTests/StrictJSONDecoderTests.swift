@testable import EdgeProofCore
import Foundation
import Testing

/// One definition per wire type: its `Codable` conformance, read by the strict decoder and written by
/// `WireJSON`. These hold the decoder to the strict reader's rules and its refusals to naming the member,
/// and the encoder to `JSONEncoder`'s bytes.
@Suite("StrictJSONDecoder and WireJSON: one codec per wire type")
struct StrictJSONDecoderTests {
    private struct Sample: Codable, Equatable {
        var count: Int
        var small: UInt8
        var big: Int64
        var ratio: Double
        var single: Float
        var flag: Bool
        var note: String?
        var tags: [String]
        var matrix: [[Int]]
        var region: GeographicRegion
        var hash: PublicKeyHash
        var extra: [String: JSONValue]
    }

    private static let hash = PublicKeyHash(canonicalHex: String(repeating: "ab", count: 32))!

    private static let sample = Sample(
        count: 42, small: 7, big: -9_007_199_254_740_991, ratio: 0.1, single: 0.1, flag: true, note: nil,
        tags: ["a/b", "é \"q\""], matrix: [[1, 2], [], [3]], region: GeographicRegion(region: "US", state: "Texas"),
        hash: hash, extra: ["z": [1, 2.5, nil], "a": ["nested": true]])

    private static func reference(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    private static func refusal<T: Decodable>(_ type: T.Type, _ json: String) -> String? {
        do {
            _ = try StrictJSONDecoder().decode(T.self, from: Array(json.utf8))
            return nil
        } catch {
            return error.description(in: "the document")
        }
    }

    @Test("WireJSON writes what JSONEncoder writes, for every kind of member")
    func encodesAsJSONEncoder() throws {
        #expect(try WireJSON.encode(Self.sample) == (try Self.reference(Self.sample)))
        let status = ComponentStatus(
            component: "collector", id: "c-1", state: .degraded, since: "2026", version: "1.0",
            counters: ["stored": 12, "rejected": 0], problem: "disk full")
        #expect(try WireJSON.encode(status) == (try Self.reference(status)))
        let request = NonceRequest(agentName: "agent-001", publicKeyHash: Self.hash)
        #expect(try WireJSON.encode(request) == (try Self.reference(request)))
        #expect(try WireJSON.encode(NonceRequest()) == (try Self.reference(NonceRequest())))
    }

    @Test("WireJSON refuses what JSONEncoder refuses")
    func refusesWhatJSONCannotCarry() {
        var sample = Self.sample
        sample.ratio = .nan
        #expect(throws: EncodingError.self) { try WireJSON.encode(sample) }
        var deep: JSONValue = 1
        for _ in 0..<600 { deep = [deep] }
        #expect(throws: EncodingError.self) { try WireJSON.encode(["deep": deep]) }
    }

    @Test("what WireJSON writes reads back strictly to the same value")
    func roundTrips() throws {
        let bytes = try WireJSON.encode(Self.sample)
        #expect(try StrictJSONDecoder().decode(Sample.self, from: bytes) == Self.sample)
    }

    @Test("members the type does not know are read strictly, then ignored")
    func ignoresUnknownMembersStrictly() throws {
        let receipt = #"{"collector":"c","nonce":"n","status":"accepted","stored_at":"s""#
        #expect(try Receipt(strictJSON: Array((receipt + #","x":{"y":[1,null]}}"#).utf8)).nonce == "n")
        #expect(Self.refusal(Receipt.self, receipt + #","x":{"y":1,"y":2}}"#)
            == #"duplicate member "y" in the document.x"#)
        #expect(Self.refusal(Receipt.self, receipt + #","x":1e400}"#)?
            .hasPrefix("a number that overflows a double") == true)
        #expect(Self.refusal(Receipt.self, receipt + #","x":[1,]}"#)?
            .hasPrefix("trailing comma in the document.x") == true)
    }

    @Test("a refusal names what is wrong and the member it is in")
    func refusalsNameTheMember() {
        #expect(Self.refusal(Receipt.self, #"{"collector":"c","status":"s","stored_at":"s"}"#)
            == #"missing member "nonce" in the document"#)
        #expect(Self.refusal(Receipt.self, #"{"collector":"c","nonce":7,"status":"s","stored_at":"s"}"#)
            == "expected a string, found '7' in the document.nonce (byte 25)")
        let geo = #"{"client_workload_id":"a","client_workload_location":{"state":"Texas"},"client_type":"thick"}"#
        #expect(Self.refusal(WorkloadGeoID.self, geo)
            == #"missing member "region" in the document.client_workload_location"#)
        #expect(Self.refusal(Sample.self, #"{"count":1.0}"#)?
            .hasPrefix("expected an integer without fraction or exponent in the document.count") == true)
        #expect(Self.refusal(Sample.self, #"{"count":1,"small":300}"#)?
            .hasPrefix("an integer out of the range of UInt8 in the document.small") == true)
        let tags = #"{"count":1,"small":3,"big":0,"ratio":0,"single":0,"flag":true,"tags":["a",2]}"#
        #expect(Self.refusal(Sample.self, tags)?
            .hasPrefix("expected a string, found '2' in the document.tags[1]") == true)
        let rejection = #"{"details":{},"error":"e","rejected_by":"nobody","timestamp":"t","validation_type":"x"}"#
        #expect(Self.refusal(Rejection.self, rejection)?.hasSuffix("in the document.rejected_by") == true)
    }

    @Test("a public key hash is read in its canonical form only, wherever it stands")
    func readsCanonicalHashesOnly() {
        let upper = String(repeating: "AB", count: 32)
        #expect(Self.refusal(NonceRequest.self, #"{"tpm_public_key_hash":"\#(upper)"}"#)
            == #"a public key hash that is not 64 lowercase hex digits in the document.tpm_public_key_hash"#)
        #expect(Self.refusal(NonceRequest.self, #"{"agent_name":null,"tpm_public_key_hash":null}"#) == nil)
    }
}
