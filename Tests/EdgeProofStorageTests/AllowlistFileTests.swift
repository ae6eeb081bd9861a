import Crypto
import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("Allowlist files")
struct AllowlistFileTests {
    private func sampleAllowlist() throws -> Allowlist {
        var allowlist = Allowlist()
        for name in ["agent-001", "agent-002"] {
            let key = try AgentPublicKey(pemRepresentation: P256.Signing.PrivateKey().publicKey.pemRepresentation)
            try allowlist.add(
                AllowlistEntry(
                    name: name, key: key, createdAt: "2026-11-21T10:00:00.000Z",
                    allowedPlaces: [AllowedPlace(region: "US", state: "California", city: "Santa Clara")]))
        }
        return allowlist
    }

    @Test("an allowlist saved as JSON or YAML loads back identical", arguments: ["allowlist.json", "allowlist.yaml"])
    func roundTrips(fileName: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending(fileName))
        let allowlist = try sampleAllowlist()
        try file.save(allowlist)
        let loaded = try file.load()
        #expect(loaded.entries == allowlist.entries)
        #expect(loaded.publicKey(forAgent: "agent-002")?.hash == allowlist.entries[1].publicKeyHash)
    }

    @Test("a YAML allowlist keeps plain scalars as written, and one that is not UTF-8 is refused, not repaired")
    func yamlIsReadOneStrictWay() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = P256.Signing.PrivateKey().publicKey
        let hash = PublicKeyHash(subjectPublicKeyInfo: key.derRepresentation)
        let pem = key.pemRepresentation.split(separator: "\n").map { "      \($0)" }.joined(separator: "\n")
        let yaml = """
            version: 1
            agents:
              - name: 0x10
                status: active
                created_at: 2026-11-21T10:00:00Z
                tpm_public_key_hash: \(hash.hex)
                public_key: |
            \(pem)
                allowed_places:
                  - {region: US, state: Texas, city: Austin}

            """
        let url = directory.appending("allowlist.yaml")
        try Data(yaml.utf8).write(to: url)
        let entry = try #require(try AllowlistFile(url: url).load().entry(named: "0x10"))
        #expect(entry.createdAt == "2026-11-21T10:00:00Z")
        // One byte of "Austin" replaced by 0xFF: a lenient reader would see another city.
        var bytes = Data(yaml.utf8)
        let at = try #require(bytes.firstRange(of: Data("Austin".utf8))).lowerBound
        bytes[at + 1] = 0xFF
        try bytes.write(to: url)
        #expect {
            _ = try AllowlistFile(url: url).load()
        } throws: { "\($0)".contains("not UTF-8") }
    }

    @Test("a hand-written YAML allowlist with a global policy loads")
    func loadsHandWrittenYAML() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = P256.Signing.PrivateKey().publicKey
        let hash = PublicKeyHash(subjectPublicKeyInfo: key.derRepresentation)
        let pem = key.pemRepresentation.split(separator: "\n").map { "      \($0)" }.joined(separator: "\n")
        let yaml = """
            version: 1
            policy:
              allowed_places:
                - {region: US, state: Oregon}
            agents:
              - name: agent-001
                status: active
                created_at: "2026-11-21T10:00:00Z"
                tpm_public_key_hash: \(hash.hex)
                public_key: |
            \(pem)
                allowed_places:
                  - region: US
                    state: Texas
                    city: Austin
            """
        let url = directory.appending("allowlist.yml")
        try Data(yaml.utf8).write(to: url)
        let allowlist = try AllowlistFile(url: url).load()
        #expect(allowlist.entry(named: "agent-001")?.allowedPlaces == [AllowedPlace(region: "US", state: "Texas", city: "Austin")])
        #expect(allowlist.policy.globalPlaces == [AllowedPlace(region: "US", state: "Oregon")])
    }

    @Test(
        "a malformed file is refused with a message that names the file and the problem",
        arguments: [
            (#"{"agents": [{"name": "a"}]}"#, #"missing member "public_key" at agents[0]"#),
            (#"{"agents": "none"}"#, "expected an array"),
            ("{not json", "is malformed"),
            (#"{"agents": [{"name": "a", "public_key": "x", "tpm_public_key_hash": "zz", "status": "active", "created_at": "2026-11-21T10:00:00Z", "allowed_places": []}]}"#, "tpm_public_key_hash"),
            (#"{"agents": [{"name": "a", "public_key": "x", "tpm_public_key_hash": "\#(String(repeating: "0", count: 64))", "status": "paused", "created_at": "2026-11-21T10:00:00Z", "allowed_places": []}]}"#, "status"),
            (#"{"agents": [{"name": "a", "public_key": "x", "tpm_public_key_hash": "\#(String(repeating: "0", count: 64))", "status": "active", "created_at": "2026-11-21T10:00:00Z", "allowed_places": []}]}"#, "public_key is unusable"),
        ])
    func rejectsMalformedFile(content: String, expected: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = directory.appending("allowlist.json")
        try Data(content.utf8).write(to: url)
        do {
            _ = try AllowlistFile(url: url).load()
            Issue.record("loaded a malformed allowlist")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(error.message.contains(url.path))
        }
    }

    @Test("a missing file is an error for load and an empty allowlist for loadOrEmpty")
    func handlesMissingFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = AllowlistFile(url: directory.appending("absent.json"))
        let missing = #expect(throws: StorageError.self) { try file.load() }
        #expect(missing?.message.hasSuffix("absent.json: no such file") == true, "\(String(describing: missing))")
        #expect(throws: StorageError.self) { try file.load(evidence: .summary) }
        #expect(try file.loadOrEmpty().count == 0)
    }
}
