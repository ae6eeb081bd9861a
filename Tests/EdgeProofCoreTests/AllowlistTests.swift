import Crypto
import EdgeProofCore
import Foundation
import Testing
import _CryptoExtras

@Suite("Allowlist")
struct AllowlistTests {
    private let created = "2026-11-21T10:00:00.000Z"
    private let places = [AllowedPlace(region: "US", state: "California", city: "Santa Clara")]

    private func entry(_ name: String, key: AgentPublicKey? = nil) throws -> AllowlistEntry {
        let key = try key ?? AgentPublicKey(pemRepresentation: P256.Signing.PrivateKey().publicKey.pemRepresentation)
        return AllowlistEntry(name: name, key: key, createdAt: created, allowedPlaces: places)
    }

    private func expectError(containing text: String, _ body: () throws(AllowlistError) -> Void,
        sourceLocation: SourceLocation = #_sourceLocation)
    {
        do {
            try body()
            Issue.record("expected an allowlist error about \(text)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test("agents are found by name and by key hash, and can be removed")
    func addsFindsAndRemoves() throws {
        var allowlist = Allowlist()
        let first = try entry("agent-001")
        try allowlist.add(first)
        try allowlist.add(try entry("agent-002"))
        #expect(allowlist.count == 2)
        #expect(allowlist.entry(named: "agent-001") == first)
        #expect(allowlist.entry(forKeyHash: first.publicKeyHash)?.name == "agent-001")
        try allowlist.remove(named: "agent-001")
        #expect(allowlist.entry(named: "agent-001") == nil)
        #expect(allowlist.entry(forKeyHash: first.publicKeyHash) == nil)
        #expect(allowlist.entry(named: "agent-002") != nil)
    }

    @Test("a name or a key can appear only once")
    func rejectsDuplicates() throws {
        var allowlist = Allowlist()
        let first = try entry("agent-001")
        try allowlist.add(first)
        let sameName = try entry("agent-001")
        expectError(containing: "more than once") { () throws(AllowlistError) in try allowlist.add(sameName) }
        let sameKey = try entry("agent-002", key: try AgentPublicKey(pemRepresentation: first.publicKey))
        expectError(containing: "already used by agent-001") { () throws(AllowlistError) in try allowlist.add(sameKey) }
        expectError(containing: "no agent named ghost") { () throws(AllowlistError) in try allowlist.remove(named: "ghost") }
    }

    @Test("a stored hash that does not match the key is refused with both values")
    func rejectsHashMismatch() throws {
        var bad = try entry("agent-001")
        let real = bad.publicKeyHash
        bad.publicKeyHash = try #require(PublicKeyHash(hex: String(repeating: "ab", count: 32)))
        expectError(containing: "does not match public_key (its hash is \(real))") { () throws(AllowlistError) in
            _ = try Allowlist(AllowlistDocument(agents: [bad]))
        }
    }

    @Test(
        "invalid entries are refused with a message naming the entry",
        arguments: [
            ("agent/../x", "name \"agent/../x\" is invalid"),
            ("+", "is invalid"),
            ("", "is invalid"),
        ])
    func rejectsInvalidNames(name: String, message: String) throws {
        let bad = try entry(name)
        expectError(containing: message) { () throws(AllowlistError) in _ = try Allowlist(AllowlistDocument(agents: [bad])) }
    }

    @Test("an unreadable public key is refused")
    func rejectsBadKey() throws {
        var bad = try entry("agent-001")
        bad.publicKey = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        expectError(containing: "agents[0] (agent-001): public_key is unusable") { () throws(AllowlistError) in
            _ = try Allowlist(AllowlistDocument(agents: [bad]))
        }
    }

    @Test("an RSA key below 2048 bits is refused")
    func rejectsWeakRSAKey() throws {
        // A 1024-bit SubjectPublicKeyInfo (public test vector shape; no private key is involved).
        let pem = """
            -----BEGIN PUBLIC KEY-----
            MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCSqThmxhX2ydkeO4j79oUfsSj
            Ex5NSUNO9LuRQNdRk3r8A7uvhy1Azdu6kvGLO6izDHmpwmN3iSOvuCJrmS8ZaWCt
            0XYmw0Q8o2Qa3Bo+4ZkvIMEQ5thh9vqv6N1zsTgTHx3ni4jn8MUXRwV4pKR7FcJI
            +vLjkyY8MrLz5rmBiQIDAQAB
            -----END PUBLIC KEY-----
            """
        do {
            _ = try AgentPublicKey(pemRepresentation: pem)
            Issue.record("accepted a 1024-bit key")
        } catch {
            #expect(error.description.contains("1024 bits is too weak"))
        }
    }

    @Test("a place with a city but no state is refused")
    func rejectsAmbiguousPlace() throws {
        var bad = try entry("agent-001")
        bad.allowedPlaces = [AllowedPlace(region: "US", city: "Austin")]
        expectError(containing: "names a city without its state") { () throws(AllowlistError) in
            _ = try Allowlist(AllowlistDocument(agents: [bad]))
        }
    }

    @Test("an unsupported file version is refused")
    func rejectsUnknownVersion() {
        expectError(containing: "version 7") { () throws(AllowlistError) in _ = try Allowlist(AllowlistDocument(version: 7)) }
    }

    @Test("agent verification: unknown, revoked and wrong-key agents each get their own reason")
    func verifiesAgents() throws {
        var allowlist = Allowlist()
        let agent = try entry("agent-001")
        try allowlist.add(agent)
        let (found, key) = try allowlist.verifyAgent(named: "agent-001", keyHash: agent.publicKeyHash)
        #expect(found.name == "agent-001")
        #expect(key.hash == agent.publicKeyHash)

        let otherHash = try entry("x").publicKeyHash
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try allowlist.verifyAgent(named: "agent-001", keyHash: otherHash)
        } == .publicKeyHashMismatch)
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try allowlist.verifyAgent(named: "agent-404", keyHash: agent.publicKeyHash)
        } == .agentNotFound)
        try allowlist.setStatus(.revoked, forAgent: "agent-001")
        #expect(failureReason { () throws(ValidationFailure) in
            _ = try allowlist.verifyAgent(named: "agent-001", keyHash: agent.publicKeyHash)
        } == .agentRevoked)
    }

    @Test("the file format round-trips through JSON with the prototype's field names")
    func encodesFieldNames() throws {
        var allowlist = Allowlist()
        try allowlist.add(try entry("agent-001"))
        let json = try #require(String(data: try JSONEncoder().encode(allowlist.document), encoding: .utf8))
        for field in ["tpm_public_key_hash", "public_key", "allowed_places", "created_at", "\"status\":\"active\""] {
            #expect(json.contains(field), "\(field)")
        }
        let decoded = try Allowlist(try JSONDecoder().decode(AllowlistDocument.self, from: Data(json.utf8)))
        #expect(decoded.entries == allowlist.entries)
    }
    @Test("a key's PEM is the one swift-crypto writes, for ECC and RSA keys")
    func writesPEMAsSwiftCrypto() throws {
        let p256 = P256.Signing.PrivateKey().publicKey
        let ours = try AgentPublicKey(derRepresentation: p256.derRepresentation)
        #expect(ours.pemRepresentation == p256.pemRepresentation)
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048).publicKey
        let oursRSA = try AgentPublicKey(derRepresentation: rsa.derRepresentation)
        #expect(oursRSA.pemRepresentation == rsa.pemRepresentation)
    }

    @Test("public_key text loads and saves back exactly as written, in the key's own form or another")
    func keepsPublicKeyText() throws {
        let key = P256.Signing.PrivateKey().publicKey
        let own = key.pemRepresentation
        let texts = [
            own, own + "\n", own.replacingOccurrences(of: "\n", with: "\r\n"),
            own.replacingOccurrences(of: "\n", with: "\n\n"),
        ]
        let hash = PublicKeyHash(subjectPublicKeyInfo: key.derRepresentation)
        for text in texts {
            let written = AllowlistEntry(
                name: "agent-001", publicKey: text, publicKeyHash: hash, createdAt: created, allowedPlaces: places)
            let json = try JSONEncoder().encode(AllowlistDocument(agents: [written]))
            let allowlist = try Allowlist(try JSONDecoder().decode(AllowlistDocument.self, from: json))
            #expect(allowlist.entries == [written])
            #expect(allowlist.entries.first?.publicKey == text)
            #expect(allowlist.publicKey(forAgent: "agent-001")?.hash == written.publicKeyHash)
            let again = try JSONEncoder().encode(allowlist.document)
            let decodedAgain = try JSONDecoder().decode(AllowlistDocument.self, from: again)
            #expect(decodedAgain == AllowlistDocument(agents: [written]))
            // Not parsed through the file, the same entry is validated and kept alike.
            let direct = try Allowlist(AllowlistDocument(agents: [written]))
            #expect(direct.entries.first?.publicKey == text)
            #expect(direct.publicKey(forAgent: "agent-001")?.hash == written.publicKeyHash)
        }
    }
    @Test("a file without agents, or with agents null, is an empty allowlist")
    func decodesMissingAgents() throws {
        for json in [#"{"version": 1}"#, #"{"version": 1, "agents": null}"#, #"{"agents": []}"#] {
            let document = try JSONDecoder().decode(AllowlistDocument.self, from: Data(json.utf8))
            #expect(document.agents.isEmpty, "\(json)")
        }
    }
}
