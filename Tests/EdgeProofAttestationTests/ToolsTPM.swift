import EdgeProofLocalStack
import Foundation

/// A swtpm driven by tpm2-tools in its own directory, with an EK (`ek.ctx`, `ek.pub`) and an ECDSA P-256 AK
/// (`ak.ctx`, `ak.pub`, `ak.name`) made by tpm2_createek and tpm2_createak. Always ``stop()`` it.
struct ToolsTPM {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let tpm: SoftwareTPM

    static func withEKAndAK() throws -> ToolsTPM {
        let tools = ToolsTPM(tpm: try SoftwareTPM.start())
        do {
            try tools.run("tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub")
            try tools.run("tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", "ecc", "-g", "sha256", "-s", "ecdsa",
                "-u", "ak.pub", "-n", "ak.name")
        } catch {
            tools.stop()
            throw error
        }
        return tools
    }

    func stop() { tpm.stop() }

    func file(_ name: String) -> URL { tpm.directory.appending(name) }

    func read(_ name: String) throws -> Data { try Data(contentsOf: file(name)) }

    func write(_ data: Data, to name: String) throws { try data.write(to: file(name)) }

    /// Runs a tool in the TPM's directory, then flushes transient objects: without a resource manager they stay
    /// loaded after the tool exits, and the TPM's three slots fill up. Throws when the tool fails.
    @discardableResult
    func run(_ tool: String, _ arguments: String...) throws -> ProcessResult {
        let result = try runAllowingFailure(tool, arguments)
        guard result.status == 0 else {
            throw Failure(description: "\(tool) \(arguments.joined(separator: " ")) exited \(result.status): "
                + result.standardError)
        }
        return result
    }

    /// Activates the credential in `credentialFile` with the AK and the EK (whose policy needs a
    /// PolicySecret(endorsement) session) and returns the tool's result; the secret is in `activated.out`.
    func activate(_ credentialFile: String) throws -> ProcessResult {
        try run("tpm2_startauthsession", "--policy-session", "-S", "session.ctx")
        defer { _ = try? runAllowingFailure("tpm2_flushcontext", ["session.ctx"]) }
        try run("tpm2_policysecret", "-S", "session.ctx", "-c", "e")
        try? FileManager.default.removeItem(at: file("activated.out"))
        return try runAllowingFailure("tpm2_activatecredential", [
            "-c", "ak.ctx", "-C", "ek.ctx", "-i", credentialFile, "-o", "activated.out", "-P", "session:session.ctx",
        ])
    }

    private func runAllowingFailure(_ tool: String, _ arguments: [String]) throws -> ProcessResult {
        let result = try ProcessRunner.run(
            tool, arguments, environment: tpm.toolsEnvironment, currentDirectory: tpm.directory.url)
        _ = try ProcessRunner.run(
            "tpm2_flushcontext", ["-t"], environment: tpm.toolsEnvironment, currentDirectory: tpm.directory.url)
        return result
    }
}
