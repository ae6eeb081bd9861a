import EdgeProofTPM
import EdgeProofTesting
import Foundation

extension SoftwareTPM {
    /// Runs `body` with a device connected to this swtpm and releases the device afterwards.
    func withDevice<T>(_ body: (TPMDevice) async throws -> T) async throws -> T {
        let device = try TPMDevice(tcti: tcti)
        return try await body(device)
    }

    /// Runs a tpm2-tools command against this swtpm and returns its standard output; throws on failure.
    func tool(_ name: String, _ arguments: [String], in directory: URL? = nil) throws -> ProcessResult {
        let result = try ProcessRunner.run(
            name, arguments, environment: toolsEnvironment, currentDirectory: directory ?? self.directory.url)
        guard result.status == 0 else {
            let command = ([name] + arguments).joined(separator: " ")
            throw TestFixtureError("\(command) exited \(result.status): \(result.standardError)")
        }
        return result
    }

    /// Transient objects loaded in the TPM, as `tpm2_getcap handles-transient` lists them ("- 0x80000000").
    func transientHandles() throws -> [String] {
        try tool("tpm2_getcap", ["handles-transient"]).output.split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// Runs openssl and returns its standard output; throws on failure.
func openssl(_ arguments: [String], input: Data? = nil, in directory: TemporaryDirectory) throws -> ProcessResult {
    let result = try ProcessRunner.run("openssl", arguments, input: input, currentDirectory: directory.url)
    guard result.status == 0 else {
        let command = (["openssl"] + arguments).joined(separator: " ")
        throw TestFixtureError("\(command) exited \(result.status): \(result.standardError)")
    }
    return result
}
