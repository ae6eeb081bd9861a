import Crypto
import EdgeProofTesting
import Foundation
import Testing

@Suite("edgeproof tpm ek")
struct TPMEndorsementCommandTests {
    private func edgeproof(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(PackagePaths.edgeproofExecutable, arguments)
    }

    private func openssl(_ arguments: [String], input: Data) async throws -> Data {
        let result = try await ProcessRunner.run("openssl", arguments, input: input)
        guard result.status == 0 else { throw TestFixtureError("openssl \(arguments): \(result.standardError)") }
        return result.standardOutput
    }

    @Test("hash is the SHA-256 of the EK's SPKI, the same in pem and in the EK certificate that cert prints")
    func printsTheEndorsementKeyAndItsCertificate() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        let target = ["--tcti", tpm.tcti]

        let hash = try await edgeproof(["tpm", "ek", "--format", "hash"] + target)
        #expect(hash.status == 0, "\(hash.standardError)")
        let printed = hash.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(printed.count == 64)

        let pem = try await edgeproof(["tpm", "ek", "--format", "pem"] + target)
        #expect(pem.status == 0)
        #expect(pem.output.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        let der = try await openssl(["pkey", "-pubin", "-outform", "DER"], input: pem.standardOutput)
        #expect(SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined() == printed)

        let certificates = try await edgeproof(["tpm", "ek", "--format", "cert"] + target)
        #expect(certificates.status == 0)
        // swtpm 0.7.1: the RSA-2048 EK certificate first, then the ECC P-384 one.
        #expect(certificates.output.components(separatedBy: "-----BEGIN CERTIFICATE-----").count == 3)
        let certificateKey = try await openssl(["x509", "-noout", "-pubkey"], input: certificates.standardOutput)
        let certificateDER = try await openssl(["pkey", "-pubin", "-outform", "DER"], input: certificateKey)
        #expect(certificateDER == der)
        let issuer = try await openssl(["x509", "-noout", "-issuer"], input: certificates.standardOutput)
        #expect(String(decoding: issuer, as: UTF8.self).contains("CN = swtpm-localca"))
        // The EK was flushed after each command.
        let transient = try await ProcessRunner.run(
            "tpm2_getcap", ["handles-transient"], environment: tpm.toolsEnvironment)
        #expect(transient.status == 0)
        #expect(transient.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test("a TPM without EK certificates: cert exits 1, hash still prints the EK public hash")
    func refusesCertWithoutCertificates() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let target = ["--tcti", tpm.tcti]
        let certificates = try await edgeproof(["tpm", "ek", "--format", "cert"] + target)
        #expect(certificates.status == 1)
        #expect(certificates.standardError.contains("no EK certificate"))
        let hash = try await edgeproof(["tpm", "ek", "--format", "hash"] + target)
        #expect(hash.status == 0)
        #expect(hash.output.trimmingCharacters(in: .whitespacesAndNewlines).count == 64)
    }
}
