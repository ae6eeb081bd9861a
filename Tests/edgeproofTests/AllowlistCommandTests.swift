import EdgeProofTesting
import Foundation
import Testing

@Suite("edgeproof allowlist")
struct AllowlistCommandTests {
    private func edgeproof(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(PackagePaths.edgeproofExecutable, arguments)
    }

    /// A P-256 public key made by openssl, as an operator would bring it.
    private func publicKeyFile(in directory: TemporaryDirectory, name: String) async throws -> String {
        let privatePath = directory.appending("\(name).key").path
        let publicPath = directory.appending("\(name).pem").path
        try #require(await ProcessRunner.run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", privatePath]).status == 0)
        try #require(await ProcessRunner.run("openssl", ["pkey", "-in", privatePath, "-pubout", "-out", publicPath]).status == 0)
        return publicPath
    }

    @Test("add, list, show, revoke and remove work on a YAML file, with openssl's key hash")
    func managesAgents() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.appending("allowlist.yaml").path
        let pem = try await publicKeyFile(in: directory, name: "agent-001")

        let added = try await edgeproof([
            "allowlist", "add", "--file", file, "--name", "agent-001", "--public-key", pem,
            "--region", "US", "--state", "California", "--city", "Santa Clara", "--place", "US/Texas/Austin",
        ])
        #expect(added.status == 0, "\(added.standardError)")
        let opensslHash = try await ProcessRunner.run(
            "sh", ["-c", "openssl pkey -pubin -in '\(pem)' -outform DER | sha256sum | cut -d' ' -f1"]
        ).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(opensslHash.count == 64)
        #expect(added.output.contains(opensslHash))

        let listed = try await edgeproof(["allowlist", "list", "--file", file])
        #expect(listed.status == 0)
        #expect(listed.output.contains("agent-001"))
        #expect(listed.output.contains("US/California/Santa Clara, US/Texas/Austin"))

        let shown = try await edgeproof(["allowlist", "show", "--file", file, "--name", "agent-001"])
        #expect(shown.output.contains("tpm_public_key_hash: \(opensslHash)"))
        #expect(shown.output.contains("BEGIN PUBLIC KEY"))

        #expect(try await edgeproof(["allowlist", "revoke", "--file", file, "--name", "agent-001"]).status == 0)
        #expect(try await edgeproof(["allowlist", "list", "--file", file]).output.contains("revoked"))

        let removed = try await edgeproof(["allowlist", "remove", "--file", file, "--name", "agent-001"])
        #expect(removed.status == 0)
        #expect(!(try await edgeproof(["allowlist", "list", "--file", file]).output.contains("agent-001")))
    }

    @Test("adding the same agent twice fails and leaves the file unchanged")
    func refusesDuplicate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.appending("allowlist.json").path
        let pem = try await publicKeyFile(in: directory, name: "a")
        let arguments = ["allowlist", "add", "--file", file, "--name", "agent-001", "--public-key", pem, "--region", "US"]
        #expect(try await edgeproof(arguments).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        let again = try await edgeproof(arguments)
        #expect(again.status == 1)
        #expect(again.standardError.contains("more than once"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before)
    }

    @Test("bad arguments and bad files give a clear error and a non-zero exit, never a crash")
    func reportsErrors() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pem = try await publicKeyFile(in: directory, name: "a")
        let file = directory.appending("allowlist.json").path

        let badName = try await edgeproof(["allowlist", "add", "--file", file, "--name", "a/b", "--public-key", pem, "--region", "US"])
        #expect(badName.status == 64)
        #expect(badName.standardError.contains("agent name \"a/b\" is invalid"))

        let noPlace = try await edgeproof(["allowlist", "add", "--file", file, "--name", "a", "--public-key", pem])
        #expect(noPlace.status == 64)

        let notAKey = directory.appending("not-a-key.pem").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: notAKey))
        let badKey = try await edgeproof(["allowlist", "add", "--file", file, "--name", "a", "--public-key", notAKey, "--region", "US"])
        #expect(badKey.status == 1)
        #expect(badKey.standardError.contains("not a PEM public key"))

        try Data(#"{"agents": [{"name": 5}]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let malformed = try await edgeproof(["allowlist", "list", "--file", file])
        #expect(malformed.status == 1)
        #expect(malformed.standardError.contains("is malformed"))

        let missing = try await edgeproof(["allowlist", "show", "--file", directory.appending("nope.json").path, "--name", "x"])
        #expect(missing.status == 1)
        #expect(missing.standardError.contains("no such file"))
    }

    @Test("help describes every command")
    func describesCommands() async throws {
        let help = try await edgeproof(["--help"])
        #expect(help.status == 0)
        for command in ["tpm", "allowlist", "demo", "bench"] { #expect(help.output.contains(command)) }
        let allowlistHelp = try await edgeproof(["allowlist", "add", "--help"])
        #expect(allowlistHelp.output.contains("--public-key"))
    }
}
