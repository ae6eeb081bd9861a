import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("NonceKeyFile")
struct NonceKeyFileTests {
    @Test func generatesAPrivateKeyFileThatLoadsAndRefusesToOverwriteIt() throws {
        let directory = try TemporaryDirectory(prefix: "edgeproof-keys")
        defer { directory.remove() }
        let url = directory.appending("nonce.keys")
        try NonceKeyFile.generate(at: url, id: 7)
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let keyring = try NonceKeyFile(url: url).load()
        #expect(keyring.current.id == 7)

        let before = try Data(contentsOf: url)
        #expect(throws: StorageError.self) { try NonceKeyFile.generate(at: url) }
        #expect(try Data(contentsOf: url) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["nonce.keys"])
    }

    @Test func issuesWithTheFirstKeyAndAcceptsTheOthers() throws {
        let old = Data(repeating: 1, count: 32).base64EncodedString()
        let new = Data(repeating: 2, count: 32).base64EncodedString()
        let file = NonceKeyFile(path: "/nonexistent/nonce.keys")
        let oldRing = try file.parse("1:\(old)\n")
        let rotated = try file.parse("# rotated\n2:\(new)\n\n1:\(old)\n")
        #expect(rotated.current.id == 2)
        let hash = PublicKeyHash(subjectPublicKeyInfo: Data([1, 2, 3]))
        let issuedWithOld = NonceAuthority(keyring: oldRing).issue(for: hash)
        _ = try NonceAuthority(keyring: rotated).validate(issuedWithOld.token, for: hash)
    }

    @Test(arguments: ["", "# only a comment\n", "0:\(Data(count: 32).base64EncodedString())", "256:abc",
        "1:not base64!", "1:\(Data(count: 16).base64EncodedString())", "x",
        "1:\(Data(count: 32).base64EncodedString())\n1:\(Data(count: 32).base64EncodedString())"])
    func rejectsMalformedKeyFiles(text: String) {
        #expect(throws: StorageError.self) { try NonceKeyFile(path: "keys").parse(text) }
    }
}
