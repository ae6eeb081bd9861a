import Crypto
import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@testable import EdgeProofStorage

/// The chunked JSON reader (`AllowlistFile.load(evidence:)`) against the whole-file one (`parse`).
@Suite("Allowlist files read a chunk at a time")
struct AllowlistStreamReaderTests {
    /// An entry's JSON: a fresh key, its hash, and a trust block (or `trust` as given).
    private static func entry(_ name: String, trust: String? = trustBlock(ek: 1)) -> String {
        let key = P256.Signing.PrivateKey().publicKey
        let pem = key.pemRepresentation.replacingOccurrences(of: "\n", with: "\\n")
        let hash = PublicKeyHash(subjectPublicKeyInfo: key.derRepresentation)
        let trustMember = trust.map { #", "trust": \#($0)"# } ?? ""
        return #"""
            {"name": "\#(name)", "public_key": "\#(pem)", "tpm_public_key_hash": "\#(hash)", "status": "active",
             "created_at": "2026-11-21T10:00:00Z",
             "allowed_places": [{"region": "US", "state": "Texas"}]\#(trustMember)}
            """#
    }

    private static func trustBlock(ek: Int, extra: String = "") -> String {
        let ekHash = PublicKeyHash(subjectPublicKeyInfo: Data("ek-\(ek)".utf8))
        return #"""
            {"level": "tpm-ek-cert", "ek_public_hash": "\#(ekHash)", "ak_public": "AAEC", "signing_key_public": "AAED",
             "certify": {"attest": "AQ==", "signature": "Ag==", "qualifying_data": "00ff"},
             "quote": {"attest": "AQ==", "signature": "Ag==", "qualifying_data": "00ff", "pcr_bank": "sha256",
                       "pcr_values": {"0": "\#(String(repeating: "ab", count: 32))"}},
             "enrolled_at": "2026-11-21T10:00:00Z", "attested_at": "2026-11-21T10:05:00Z",
             "approved_by": "operator:test"\#(extra)}
            """#
    }

    /// Files both readers must accept or both refuse, with the verdict expected.
    private static func corpus() -> [(name: String, text: String, accepted: Bool)] {
        let a = entry("agent-a")
        let b = entry("agent-b", trust: trustBlock(ek: 2))
        let plain = entry("agent-c", trust: nil)
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        return [
            ("agents and version", #"{"agents": [\#(a), \#(b)], "version": 1}"#, true),
            ("version first, whitespace around", " \n\t{ \"version\" : 1 ,\r\n \"agents\" : [ \(a) ] } \n", true),
            ("an entry without evidence", #"{"agents": [\#(plain), \#(a)]}"#, true),
            ("trust null", #"{"agents": [\#(entry("agent-d", trust: "null"))]}"#, true),
            ("empty object", "{}", true),
            ("no agents", #"{"agents": []}"#, true),
            ("agents null", #"{"agents": null}"#, true),
            ("escaped member name", #"{"\u0061gents": [\#(a)]}"#, true),
            ("unknown member", #"{"note": {"x": [1, 2.5, "s", true, null]}, "agents": [\#(a)]}"#, true),
            ("policy", #"{"policy": {"allowed_places": [{"region": "US"}]}, "agents": [\#(a)]}"#, true),
            ("agents twice", #"{"agents": [\#(a)], "agents": [\#(b)]}"#, false),
            ("a name twice after unescaping", #"{"version": 1, "v\u0065rsion": 1, "agents": []}"#, false),
            ("trailing comma in agents", #"{"agents": [\#(a),]}"#, false),
            ("trailing comma in the object", #"{"agents": [\#(a)],}"#, false),
            ("text after the object", #"{"agents": [\#(a)]} x"#, false),
            ("a second object", #"{"agents": [\#(a)]}{}"#, false),
            ("a byte order mark", "\u{FEFF}{\"agents\": []}", false),
            ("an array at the top", "[\(a)]", false),
            ("empty file", "", false),
            ("only whitespace", "  \n", false),
            ("cut short", #"{"agents": [\#(a)"#, false),
            ("cut inside a string", #"{"agents": [{"name": "ag"#, false),
            ("mismatched brackets", #"{"agents": [\#(a)}"#, false),
            ("an extra bracket", #"{"agents": [\#(a)]]}"#, false),
            ("no colon", #"{"agents" [\#(a)]}"#, false),
            ("unquoted name", #"{agents: [\#(a)]}"#, false),
            ("no comma between entries", #"{"agents": [\#(a) \#(b)]}"#, false),
            ("version 1.0", #"{"version": 1.0, "agents": []}"#, false),
            ("version 2", #"{"version": 2, "agents": []}"#, false),
            ("agents a number", #"{"agents": 5}"#, false),
            ("agents an object", #"{"agents": {}}"#, false),
            ("an entry a number", #"{"agents": [1]}"#, false),
            ("a member twice in an entry", #"{"agents": [\#(a.dropLast()), "name": "x"}]}"#, false),
            (
                "a member twice in a trust block",
                #"{"agents": [\#(entry("agent-e", trust: trustBlock(ek: 3, extra: #", "level": "tpm-ek-cert""#)))]}"#,
                false
            ),
            ("too deep in an unknown member", #"{"note": \#(deep), "agents": []}"#, false),
            ("too deep in an entry", #"{"agents": [\#(a.dropLast()), "note": \#(deep)}]}"#, false),
            ("trailing comma in an unknown member", #"{"note": [1,], "agents": []}"#, false),
            ("a bad escape", #"{"note": "\q", "agents": []}"#, false),
            ("a raw control character", "{\"note\": \"a\u{01}b\", \"agents\": []}", false),
            ("a leading zero", #"{"note": 01, "agents": []}"#, false),
            ("a NUL after the object", "{\"agents\": []}\u{0}", false),
            ("the same agent twice", #"{"agents": [\#(a), \#(a)]}"#, false),
            (
                "a revoked status spelled wrong",
                #"{"agents": [\#(a.replacingOccurrences(of: "\"active\"", with: "\"paused\""))]}"#, false
            ),
        ]
    }

    private static func file(_ text: String, in directory: TemporaryDirectory, _ index: Int) throws -> AllowlistFile {
        let url = directory.appending("allowlist-\(index).json")
        try Data(text.utf8).write(to: url)
        return AllowlistFile(url: url)
    }

    /// The chunked reader with chunks of `chunkBytes`, as `load(evidence:)` runs it with 1 MiB.
    private static func readChunked(
        _ file: AllowlistFile, chunkBytes: Int, evidence: AllowlistEntry.EvidenceReading
    ) throws -> AllowlistDocument {
        let handle = try FileHandle(forReadingFrom: file.url)
        defer { try? handle.close() }
        var reader = AllowlistStreamReader(
            source: ChunkSource(handle: handle, chunkBytes: chunkBytes), evidence: evidence)
        return try reader.read()
    }

    @Test(
        "the chunked and the whole-file reader accept and refuse the same files, whatever the chunk size",
        arguments: [AllowlistEntry.EvidenceReading.summary, .full])
    func agreesWithWholeFileReading(evidence: AllowlistEntry.EvidenceReading) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (index, sample) in Self.corpus().enumerated() {
            let file = try Self.file(sample.text, in: directory, index)
            let whole = Result { try file.parse(Data(sample.text.utf8), evidence: evidence) }
            let chunked = Result { try file.load(evidence: evidence) }
            #expect(((try? whole.get()) != nil) == sample.accepted, "whole-file, \(sample.name): \(whole)")
            #expect(((try? chunked.get()) != nil) == sample.accepted, "chunked, \(sample.name): \(chunked)")
            if let whole = try? whole.get(), let chunked = try? chunked.get() {
                #expect(whole.entries == chunked.entries, "\(sample.name)")
                #expect(whole.policy == chunked.policy, "\(sample.name)")
            }
            for chunkBytes in [1, 2, 7, 64] {
                let small = Result { try Self.readChunked(file, chunkBytes: chunkBytes, evidence: evidence) }
                let accepted = (try? small.get()).map { (try? Allowlist($0)) != nil } ?? false
                #expect(accepted == sample.accepted, "\(chunkBytes)-byte chunks, \(sample.name): \(small)")
            }
        }
    }

    @Test("a list longer than the sample the reader sizes its array from loads the same chunked as whole")
    func loadsLongList() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let count = AllowlistStreamReader.entriesToEstimateFrom * 2 + 7
        let entries = (0..<count).map { Self.entry(String(format: "agent-%04d", $0), trust: Self.trustBlock(ek: $0)) }
        let text = #"{"agents": [\#(entries.joined(separator: ",\n"))]}"#
        let file = try Self.file(text, in: directory, 0)
        let chunked = try file.load(evidence: .summary)
        #expect(chunked.count == count)
        #expect(chunked.entries == (try file.parse(Data(text.utf8), evidence: .summary)).entries)
    }

    @Test("a refused entry is named by its index, with the same words as reading the file whole")
    func namesTheEntry() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let text = #"{"agents": [\#(Self.entry("agent-a")), \#(Self.entry("agent-b")), {"name": "agent-c"}]}"#
        let file = try Self.file(text, in: directory, 0)
        let whole = #expect(throws: StorageError.self) { try file.parse(Data(text.utf8)) }
        let chunked = #expect(throws: StorageError.self) { try file.load(evidence: .summary) }
        #expect(
            chunked?.message.contains(#"missing member "public_key" at agents[2]"#) == true,
            "\(String(describing: chunked))")
        #expect(chunked?.message == whole?.message)
        let garbled = text.replacingOccurrences(of: #""agent-b", "public_key""#, with: #""agent-b", "public_key" 5"#)
        let problem = #expect(throws: StorageError.self) { try Self.file(garbled, in: directory, 1).load() }
        #expect(problem?.message.contains("agents[1]") == true, "\(String(describing: problem))")
    }

    @Test("read for a summary, an entry keeps its trust summary and not its evidence; read full, both")
    func keepsSummaryOrEvidence() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try Self.file(
            #"{"agents": [\#(Self.entry("agent-a")), \#(Self.entry("agent-b", trust: nil))]}"#, in: directory, 0)
        let summary = try file.load(evidence: .summary)
        let full = try file.load()
        let expectedEK = PublicKeyHash(subjectPublicKeyInfo: Data("ek-1".utf8))
        #expect(summary.entries[0].trust == nil)
        #expect(summary.entries[0].trustSummary?.ekPublicHash == expectedEK)
        #expect(summary.entries[0].trustLevel == .tpmEKCert)
        #expect(summary.entries[0].trustSummary?.attestedAt == full.entries[0].trustSummary?.attestedAt)
        #expect(full.entries[0].trust?.quote.pcrValues["0"] == String(repeating: "ab", count: 32))
        #expect(summary.entries[1].trustLevel == .configured)
        // Entries with the same places share one array.
        #expect(summary.entries[0].allowedPlaces == summary.entries[1].allowedPlaces)
        #expect(throws: StorageError.self) { try file.save(summary) }
    }

    @Test("a YAML allowlist is read whole, for a summary too")
    func readsYAMLForSummary() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let json = AllowlistFile(url: try Self.file(#"{"agents": [\#(Self.entry("agent-a"))]}"#, in: directory, 0).url)
        let yaml = AllowlistFile(url: directory.appending("allowlist.yaml"))
        try yaml.save(try json.load())
        let summary = try yaml.load(evidence: .summary)
        #expect(summary.entries[0].trust == nil)
        #expect(summary.entries[0].trustLevel == .tpmEKCert)
        #expect(try yaml.load().entries[0].trust != nil)
    }
}
