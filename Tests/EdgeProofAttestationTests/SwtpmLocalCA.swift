import EdgeProofLocalStack
import Foundation

/// A local certificate authority of swtpm_localca in a temporary directory, and swtpms manufactured by
/// `swtpm_setup --create-ek-cert` with EK certificates it signs (RSA-2048 at NV 0x01c00002, P-384 at 0x01c00016).
struct SwtpmLocalCA {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory(prefix: "edgeproof-localca")
        let path = directory.path
        try """
            statedir = \(path)
            signingkey = \(path)/signkey.pem
            issuercert = \(path)/issuercert.pem
            certserial = \(path)/certserial
            """.write(to: directory.appending("swtpm-localca.conf"), atomically: true, encoding: .utf8)
        try "--platform-manufacturer EdgeProof\n--platform-version 1\n--platform-model test\n"
            .write(to: directory.appending("swtpm-localca.options"), atomically: true, encoding: .utf8)
        try """
            create_certs_tool = /usr/bin/swtpm_localca
            create_certs_tool_config = \(path)/swtpm-localca.conf
            create_certs_tool_options = \(path)/swtpm-localca.options
            """.write(to: directory.appending("swtpm_setup.conf"), atomically: true, encoding: .utf8)
    }

    /// The root and the issuing CA certificate (swtpm_localca makes both on first use), as a trust store.
    var trustStoreFiles: [URL] {
        [directory.appending("swtpm-localca-rootca-cert.pem"), directory.appending("issuercert.pem")]
    }

    /// A started swtpm whose state swtpm_setup manufactured with EK certificates from this CA.
    func manufactureTPM() throws -> ToolsTPM {
        let tpm = try SoftwareTPM.start()
        do {
            // swtpm_setup writes a state directory of a stopped TPM; the fixture's TPM is stopped, given that
            // state, and started again on its ports.
            tpm.kill()
            let result = try ProcessRunner.run("swtpm_setup", [
                "--tpm2", "--tpmstate", tpm.directory.path, "--create-ek-cert", "--overwrite",
                "--config", directory.appending("swtpm_setup.conf").path,
            ])
            guard result.status == 0 else {
                throw ToolsTPM.Failure(description: "swtpm_setup exited \(result.status): \(result.output)"
                    + result.standardError)
            }
            try tpm.restart()
        } catch {
            tpm.stop()
            throw error
        }
        return ToolsTPM(tpm: tpm)
    }

    func remove() { directory.remove() }
}
