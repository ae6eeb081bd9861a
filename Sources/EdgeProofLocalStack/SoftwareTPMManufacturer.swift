import Foundation

/// A local "TPM manufacturer" for swtpm: swtpm_localca's certificate authority, kept in a directory of its own,
/// that signs the EK and platform certificates `swtpm_setup --create-ek-cert --create-platform-cert` stores
/// in a new TPM's NV. A registrar that trusts ``rootCertificate`` (with ``issuerCertificate`` as the
/// intermediate) accepts these TPMs as genuine. Nothing under /etc or /var/lib is read or written: the
/// configuration files swtpm_setup and swtpm_localca would take from there are written into ``directory``.
public struct SoftwareTPMManufacturer: Sendable {
    /// The CA's keys, certificates, serial counter and configuration.
    public let directory: TemporaryDirectory

    /// The self-signed root ("swtpm-localca-rootca"): the manufacturer CA a registrar trusts. swtpm_localca
    /// creates it, with the issuer, when it makes its first certificate.
    public var rootCertificate: URL { directory.appending("swtpm-localca-rootca-cert.pem") }
    /// The intermediate ("swtpm-localca") that signs the EK certificates; the root signs it.
    public var issuerCertificate: URL { directory.appending("issuercert.pem") }

    /// Writes the configuration into `directory` (a new temporary one when nil); the CA itself follows on
    /// first use. Several TPMs may share one manufacturer (swtpm_localca locks its directory).
    public init(directory: TemporaryDirectory? = nil) throws {
        let directory = try directory ?? TemporaryDirectory(prefix: "edgeproof-tpm-ca")
        self.directory = directory
        let path = directory.path
        let files = [
            "swtpm-localca.conf": """
                statedir = \(path)
                signingkey = \(path)/signkey.pem
                issuercert = \(path)/issuercert.pem
                certserial = \(path)/certserial

                """,
            "swtpm-localca.options": """
                --platform-manufacturer EdgeProof
                --platform-version 2.1
                --platform-model swtpm

                """,
            "swtpm_setup.conf": """
                create_certs_tool = /usr/bin/swtpm_localca
                create_certs_tool_config = \(path)/swtpm-localca.conf
                create_certs_tool_options = \(path)/swtpm-localca.options
                active_pcr_banks = sha256

                """,
        ]
        for (name, content) in files {
            try Data(content.utf8).write(to: directory.appending(name))
        }
    }

    /// Manufactures a TPM in `state`: EKs (RSA-2048 persisted at 0x81010001, ECC P-384 at 0x81010016),
    /// their certificates in NV (0x01c00002, 0x01c00016), a platform certificate (0x01c08000), the SHA-256
    /// PCR bank. About 1.7 s with a new CA (its keys), 0.7 s with one that made certificates before.
    func manufacture(state: TemporaryDirectory) throws {
        let result = try ProcessRunner.run(
            "swtpm_setup",
            [
                "--tpm2", "--tpmstate", state.path, "--create-ek-cert", "--create-platform-cert", "--overwrite",
                "--config", directory.appending("swtpm_setup.conf").path,
                "--logfile", state.appending("swtpm_setup.log").path,
            ])
        guard result.status == 0 else {
            let log = (try? String(contentsOf: state.appending("swtpm_setup.log"), encoding: .utf8)) ?? ""
            throw LocalStackError("swtpm_setup exited \(result.status): \(result.standardError)\n\(log.suffix(2000))")
        }
    }
}
