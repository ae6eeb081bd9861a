import Crypto
import EdgeProofTesting
import Foundation
import Testing

@testable import EdgeProofCore

/// Every document of ``StrictReadingCorpus``, signed honestly into a whole envelope (a software ES256
/// key, as a compromised agent's TPM would sign whatever it is given), goes through
/// `SignedEnvelope(parsing:)` — the reading the collector's intake and the gateway's inspector both use
/// — and through an independent strict parser: Python's `json` with a hook that refuses duplicate
/// names, NaN and Infinity refused, overflowing numbers refused, strict UTF-8, no byte order mark, no
/// lone surrogates. Where either refuses, EdgeProof must refuse; where both accept, every field
/// EdgeProof decoded must equal Python's value, bit for bit for numbers.
@Suite("Strict reading: EdgeProof refuses what an independent strict parser refuses, and agrees on the rest")
struct StrictReadingDifferentialTests {
    /// The independent parser's verdict on one document.
    enum Verdict {
        case refused(String)
        case accepted(JSONValue)
    }

    @Test("hundreds of ambiguous and non-canonical envelopes: refused where either refuses, equal where both accept")
    func agreesWithAnIndependentStrictParser() async throws {
        let signer = try TestSigner.make(.es256)
        let key = try signer.publicKey
        let corpus = StrictReadingCorpus(keyHash: signer.publicKeyHash.hex)
        #expect(corpus.cases.count >= 500, "\(corpus.cases.count) cases")
        let verdicts = try await Self.judgeWithPython(corpus.cases.map(\.bytes))
        try #require(verdicts.count == corpus.cases.count)

        var wrong: [String] = []
        var tally: [String: Int] = [:]
        for (item, verdict) in zip(corpus.cases, verdicts) {
            let (header, claims) = item.part == .header ? (item.bytes, corpus.claims.bytes()) : (corpus.header.bytes(), item.bytes)
            let envelope = try await Self.signedEnvelope(header: header, claims: claims, with: signer)
            let outcome = Result { () throws(ValidationFailure) in try SignedEnvelope(parsing: envelope) }
            switch (verdict, outcome) {
            case (.refused(let why), .success):
                wrong.append("\(item): accepted, Python refuses (\(why))")
            case (.refused, .failure(let failure)):
                tally["both refuse", default: 0] += 1
                if failure.reason != .malformedEnvelope {
                    wrong.append("\(item): \(failure) instead of malformed_envelope")
                }
            case (.accepted, .failure(let failure)):
                tally["EdgeProof alone refuses", default: 0] += 1
                if item.expectation == .accepted { wrong.append("\(item): refused (\(failure)), Python accepts") }
            case (.accepted(let value), .success(let parsed)):
                tally["both accept", default: 0] += 1
                do {
                    try parsed.verifySignature(with: key)
                } catch {
                    wrong.append("\(item): \(error)")
                }
                let differences =
                    item.part == .header ? Self.differences(parsed.header, value) : Self.differences(parsed.claims, value)
                wrong += differences.map { "\(item): \($0)" }
            }
            if case .accepted = verdict, item.expectation == .refused {
                wrong.append("\(item): the independent parser accepts a case built to be refused")
            }
            if case .refused(let why) = verdict, item.expectation == .accepted {
                wrong.append("\(item): the independent parser refuses a valid case (\(why))")
            }
            if item.expectation == .refusedByContract, case .success = outcome {
                wrong.append("\(item): a non-canonical hash was accepted")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong:\n\(wrong.prefix(30).joined(separator: "\n"))")
        #expect(tally["both refuse", default: 0] > 300, "\(tally)")
        #expect(tally["both accept", default: 0] > 100, "\(tally)")
        print("strict reading corpus: \(corpus.cases.count) envelopes, \(tally)")
    }

    // MARK: The independent parser

    static let oracle = #"""
        import base64, json, math, struct, sys

        class Refused(Exception):
            pass

        class Pairs(list):
            pass

        def pairs(items):
            seen = set()
            for name, _ in items:
                if name in seen:
                    raise Refused("duplicate member %r" % name)
                seen.add(name)
            return Pairs(items)

        def constant(name):
            raise Refused("not a JSON number: " + name)

        def finite(text):
            value = float(text)
            if math.isinf(value):
                raise Refused("number overflows a double: " + text)
            return value

        def text(value):
            # RFC 8259 lets an escape write a lone surrogate; I-JSON (RFC 7493 2.1) does not.
            if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
                raise Refused("lone surrogate")
            return value

        def tagged(value):
            if isinstance(value, Pairs):
                return ["o", [[text(name), tagged(item)] for name, item in value]]
            if isinstance(value, list):
                return ["a", [tagged(item) for item in value]]
            if isinstance(value, str):
                return ["s", text(value)]
            if value is None:
                return ["z"]
            if value is True or value is False:
                return ["b", "true" if value else "false"]
            value = float(value)  # an int beyond a double raises OverflowError
            if math.isinf(value):
                raise Refused("number overflows a double")
            return ["n", str(struct.unpack("<q", struct.pack("<d", value))[0])]

        def judge(document):
            try:
                source = document.decode("utf-8")  # strict: invalid UTF-8 and encoded surrogates refused
            except UnicodeDecodeError as error:
                return {"ok": False, "why": "invalid UTF-8: %s" % error}
            if source.startswith("\ufeff"):
                return {"ok": False, "why": "byte order mark"}
            try:
                value = json.loads(source, object_pairs_hook=pairs, parse_constant=constant, parse_float=finite)
                return {"ok": True, "value": tagged(value)}
            except (Refused, ValueError, OverflowError, RecursionError) as error:
                return {"ok": False, "why": str(error)[:200]}

        documents = json.load(open(sys.argv[1]))
        with open(sys.argv[2], "w") as out:
            json.dump([judge(base64.b64decode(item)) for item in documents], out)
        """#

    /// Python's verdict on each document, in one run of `python3`.
    static func judgeWithPython(_ documents: [[UInt8]]) async throws -> [Verdict] {
        let directory = try TemporaryDirectory(prefix: "strict-reading")
        defer { directory.remove() }
        let script = directory.appending("oracle.py")
        let corpus = directory.appending("corpus.json")
        let output = directory.appending("verdicts.json")
        try Data(oracle.utf8).write(to: script)
        try JSONSerialization.data(withJSONObject: documents.map { Data($0).base64EncodedString() }).write(to: corpus)
        let run = try await ProcessRunner.run("python3", [script.path, corpus.path, output.path])
        try #require(run.status == 0, "python3 failed: \(run.standardError)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [[String: Any]])
        return try results.map { result in
            if result["ok"] as? Bool == true {
                return .accepted(try value(fromTagged: result["value"] as Any))
            }
            return .refused(result["why"] as? String ?? "?")
        }
    }

    struct OracleFormatError: Error {}

    /// The tagged tree the script writes: `["o", [[name, value]…]]`, `["a", […]]`, `["s", text]`,
    /// `["n", "<bits of the double>"]`, `["b", "true"]`, `["z"]`.
    static func value(fromTagged tagged: Any) throws -> JSONValue {
        guard let list = tagged as? [Any], let tag = list.first as? String else { throw OracleFormatError() }
        switch tag {
        case "z": return .null
        case "b": return .bool(list[1] as? String == "true")
        case "s": return .string(try (list[1] as? String).orThrow())
        case "n":
            let bits = try Int64(try (list[1] as? String).orThrow()).orThrow()
            return .number(Double(bitPattern: UInt64(bitPattern: bits)))
        case "a": return .array(try (list[1] as? [Any]).orThrow().map(value(fromTagged:)))
        case "o":
            var object: [String: JSONValue] = [:]
            for pair in try (list[1] as? [[Any]]).orThrow() {
                object[try (pair[0] as? String).orThrow()] = try value(fromTagged: pair[1])
            }
            return .object(object)
        default: throw OracleFormatError()
        }
    }

    // MARK: Comparing

    static func differences(_ header: JWSHeader, _ value: JSONValue) -> [String] {
        var found: [String] = []
        if value["alg"] != .string(header.algorithm.rawValue) { found.append("alg \(header.algorithm) vs \(String(describing: value["alg"]))") }
        if value["kid"] != .string(header.keyID.hex) { found.append("kid \(header.keyID) vs \(String(describing: value["kid"]))") }
        if value["typ"] != .string(header.type) { found.append("typ vs \(String(describing: value["typ"]))") }
        return found
    }

    /// Every field of `claims` against Python's value at the same place (an absent optional is
    /// Python's null or no member).
    static func differences(_ claims: EnvelopeClaims, _ value: JSONValue) -> [String] {
        var found: [String] = []
        func check(_ label: String, _ mine: JSONValue?, _ theirs: JSONValue?) {
            let theirs = theirs == .null ? nil : theirs
            if !same(mine, theirs) {
                found.append("\(label): \(String(describing: mine)) vs \(String(describing: theirs))")
            }
        }
        check("v", .number(Double(claims.version)), value["v"])
        check("agent_name", .string(claims.agentName), value["agent_name"])
        check("tpm_public_key_hash", .string(claims.publicKeyHash.hex), value["tpm_public_key_hash"])
        check("nonce", .string(claims.nonce), value["nonce"])
        check("timestamp", .string(claims.timestamp), value["timestamp"])
        let region = value["geographic_region"]
        check("geographic_region.region", .string(claims.geographicRegion.region), region?["region"])
        check("geographic_region.state", claims.geographicRegion.state.map(JSONValue.string), region?["state"])
        check("geographic_region.city", claims.geographicRegion.city.map(JSONValue.string), region?["city"])
        let location = value["geolocation"] == .null ? nil : value["geolocation"]
        if let geolocation = claims.geolocation {
            check("geolocation.latitude", geolocation.latitude.map(JSONValue.number), location?["latitude"])
            check("geolocation.longitude", geolocation.longitude.map(JSONValue.number), location?["longitude"])
            check("geolocation.altitude", geolocation.altitude.map(JSONValue.number), location?["altitude"])
            check("geolocation.source", geolocation.source.map { .string($0.rawValue) }, location?["source"])
            check("geolocation.fix_mode", geolocation.fixMode.map { .string($0.rawValue) }, location?["fix_mode"])
            check("geolocation.fix_time", geolocation.fixTime.map(JSONValue.string), location?["fix_time"])
            check("geolocation.accuracy_m", geolocation.accuracyMeters.map(JSONValue.number), location?["accuracy_m"])
            check("geolocation.quality", geolocation.quality.map(JSONValue.string), location?["quality"])
            check("geolocation.type", geolocation.type.map(JSONValue.string), location?["type"])
        } else if location != nil {
            found.append("geolocation: absent vs \(String(describing: location))")
        }
        let metrics = value["metrics"]
        let service = metrics?["service"]
        check("metrics.service.name", .string(claims.metrics.service.name), service?["name"])
        check("metrics.service.version", .string(claims.metrics.service.version), service?["version"])
        check("metrics.service.instance_id", .string(claims.metrics.service.instanceID), service?["instance_id"])
        guard case .array(let samples) = metrics?["samples"], samples.count == claims.metrics.samples.count else {
            return found + ["metrics.samples: \(claims.metrics.samples.count) samples vs \(String(describing: metrics?["samples"]))"]
        }
        for (index, (sample, theirs)) in zip(claims.metrics.samples, samples).enumerated() {
            check("samples[\(index)].timestamp", .string(sample.timestamp), theirs["timestamp"])
            check("samples[\(index)].metric_type", .string(sample.metricType), theirs["metric_type"])
            check("samples[\(index)].values", .object(sample.values), theirs["values"])
        }
        return found
    }

    /// Equal values, numbers to the bit (but 0 and -0 alike: Python's integer 0 and `-0` are both 0).
    static func same(_ mine: JSONValue?, _ theirs: JSONValue?) -> Bool {
        switch (mine, theirs) {
        case (nil, nil): return true
        case (.number(let a), .number(let b)): return a == 0 ? b == 0 : a.bitPattern == b.bitPattern
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { name, item in b[name].map { same(item, $0) } ?? false }
        default: return mine == theirs
        }
    }

    // MARK: Signing

    /// A flattened JWS of exactly these header and claims bytes, honestly signed.
    static func signedEnvelope(header: [UInt8], claims: [UInt8], with signer: TestSigner) async throws -> [UInt8] {
        let protected = Base64URL.encode(header)
        let payload = Base64URL.encode(claims)
        let digest = SHA256.hash(data: Array((protected + "." + payload).utf8))
        let signature = Base64URL.encode(try await signer.signature(forDigest: digest))
        return Array(#"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(signature)"}"#.utf8)
    }
}

extension Optional {
    func orThrow() throws -> Wrapped {
        guard let self else { throw StrictReadingDifferentialTests.OracleFormatError() }
        return self
    }
}

extension StrictReadingDifferentialTests {
    /// The cases found in the attack, each honestly signed: refused with the reason and the words that
    /// say what was wrong.
    static let reported: [(name: String, header: String?, claims: @Sendable (String) -> String, reason: String, words: String)] = [
        (
            "second geographic_region", nil, { $0.replacingOccurrences(of: #","geolocation""#, with: #","geographic_region":{"region":"EU","state":"Germany","city":"Berlin"},"geolocation""#) },
            "malformed_envelope", #"duplicate member "geographic_region" in claims"#
        ),
        (
            "escaped second geographic_region", nil, { $0.replacingOccurrences(of: #","geolocation""#, with: #","geographic\u005fregion":{"region":"EU"},"geolocation""#) },
            "malformed_envelope", #"duplicate member "geographic_region" in claims"#
        ),
        (
            "second nonce", nil, { $0.replacingOccurrences(of: #","tpm_public_key_hash""#, with: #","nonce":"consumed","tpm_public_key_hash""#) },
            "malformed_envelope", #"duplicate member "nonce" in claims"#
        ),
        (
            "second agent_name", nil, { $0.replacingOccurrences(of: #","nonce""#, with: #","agent_name":"agent-002","nonce""#) },
            "malformed_envelope", #"duplicate member "agent_name" in claims"#
        ),
        (
            "second city", nil, { $0.replacingOccurrences(of: #""city":"Santa Clara","#, with: #""city":"Santa Clara","city":"Berlin","#) },
            "malformed_envelope", #"duplicate member "city" in claims.geographic_region"#
        ),
        (
            "second metrics", nil, { $0.dropLast() + #","metrics":{"service":{"name":"x","version":"1","instance_id":"i"},"samples":[]}}"# },
            "malformed_envelope", #"duplicate member "metrics" in claims"#
        ),
        (
            "trailing comma in claims", nil, { $0.dropLast() + ",}" }, "malformed_envelope", "trailing comma in claims"
        ),
        (
            "trailing comma in values", nil, { $0.replacingOccurrences(of: #""memory_used_bytes":1048576}"#, with: #""memory_used_bytes":1048576,}"#) },
            "malformed_envelope", "trailing comma in claims.metrics.samples[0].values"
        ),
        (
            "trailing comma in samples", nil, { $0.replacingOccurrences(of: #"}}],"service""#, with: #"}},],"service""#) },
            "malformed_envelope", "trailing comma in claims.metrics.samples"
        ),
        (
            "uppercase tpm_public_key_hash", nil, { claims in
                let hash = claims.components(separatedBy: #""tpm_public_key_hash":""#)[1].prefix(64)
                return claims.replacingOccurrences(of: String(hash), with: hash.uppercased())
            }, "malformed_envelope", "not 64 lowercase hex digits in claims.tpm_public_key_hash"
        ),
        (
            "alg ES256 then none", #"{"alg":"ES256","kid":"KID","typ":"edgeproof+jws","alg":"none"}"#, { $0 },
            "malformed_envelope", #"duplicate member "alg" in protected header"#
        ),
        (
            "second kid", #"{"alg":"ES256","kid":"KID","kid":"\#(String(repeating: "cd", count: 32))","typ":"edgeproof+jws"}"#, { $0 },
            "malformed_envelope", #"duplicate member "kid" in protected header"#
        ),
        (
            "trailing comma in header", #"{"alg":"ES256","kid":"KID","typ":"edgeproof+jws",}"#, { $0 },
            "malformed_envelope", "trailing comma in protected header"
        ),
        (
            "uppercase kid", #"{"alg":"ES256","kid":"UPPERKID","typ":"edgeproof+jws"}"#, { $0 },
            "header_mismatch", "64 lowercase hex digits"
        ),
    ]

    @Test("the reported cases, honestly signed, are refused with their reason and say what was wrong")
    func refusesReportedCases() async throws {
        let signer = try TestSigner.make(.es256)
        let plain = String(decoding: try SignedEnvelope.claimsJSON(Fixtures.claims(keyHash: signer.publicKeyHash)), as: UTF8.self)
        for item in Self.reported {
            let header = (item.header ?? #"{"alg":"ES256","kid":"KID","typ":"edgeproof+jws"}"#)
                .replacingOccurrences(of: "UPPERKID", with: signer.publicKeyHash.hex.uppercased())
                .replacingOccurrences(of: "KID", with: signer.publicKeyHash.hex)
            let mutated = item.claims(plain)
            #expect(item.header != nil || mutated != plain, "\(item.name): the mutation did not apply")
            let envelope = try await Self.signedEnvelope(header: Array(header.utf8), claims: Array(mutated.utf8), with: signer)
            do {
                _ = try SignedEnvelope(parsing: envelope)
                Issue.record("\(item.name): accepted")
            } catch {
                #expect(error.reason.code == item.reason, "\(item.name): \(error)")
                #expect(error.message.contains(item.words), "\(item.name): \(error.message)")
            }
        }
    }
}
