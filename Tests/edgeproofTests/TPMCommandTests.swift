import EdgeProofTesting
import Foundation
import Testing

@Suite("edgeproof tpm")
struct TPMCommandTests {
    private func edgeproof(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(PackagePaths.edgeproofExecutable, arguments)
    }

    @Test("provision is idempotent and pubkey's PEM hashes, by openssl, to pubkey --format hash", arguments: ["ecc-p256", "rsa-2048"])
    func provisionsAndPrintsKey(algorithm: String) async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let target = ["--tcti", tpm.tcti, "--handle", "0x81010011"]

        let first = try await edgeproof(["tpm", "provision", "--alg", algorithm] + target)
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.output.hasPrefix("created "))
        let second = try await edgeproof(["tpm", "provision", "--alg", algorithm] + target)
        #expect(second.status == 0)
        #expect(second.output.hasPrefix("already provisioned: "))
        let hashLine = { (output: String) in output.split(separator: "\n").first { $0.hasPrefix("tpm_public_key_hash:") } }
        #expect(hashLine(first.output) == hashLine(second.output))

        let pem = try await edgeproof(["tpm", "pubkey", "--format", "pem"] + target)
        #expect(pem.status == 0)
        #expect(pem.output.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        let hash = try await edgeproof(["tpm", "pubkey", "--format", "hash"] + target)
        let printed = hash.output.trimmingCharacters(in: .whitespacesAndNewlines)

        let der = try await ProcessRunner.run("openssl", ["pkey", "-pubin", "-outform", "DER"], input: pem.standardOutput)
        #expect(der.status == 0)
        let digest = try await ProcessRunner.run("sha256sum", [], input: der.standardOutput)
        let opensslHash = String(digest.output.prefix(64))
        #expect(printed == opensslHash)
        #expect(hashLine(first.output) == "tpm_public_key_hash: \(opensslHash)")
    }

    @Test("the other algorithm on an occupied handle fails with a clear error and exit status 1")
    func refusesOccupiedHandle() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let target = ["--tcti", tpm.tcti, "--handle", "0x81010012"]
        #expect(try await edgeproof(["tpm", "provision", "--alg", "ecc-p256"] + target).status == 0)
        let clash = try await edgeproof(["tpm", "provision", "--alg", "rsa-2048"] + target)
        #expect(clash.status == 1)
        #expect(clash.standardError.contains("holds an ECC P-256 key, not RSA-2048"))
    }

    @Test("a key without noDA is refused with the reason and the fix; --replace makes a new key and says the allowlist must change")
    func refusesKeyWithoutNoDAUntilReplaced() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try tpm.createKeyWithoutNoDA(at: "0x81010010")
        let target = ["--tcti", tpm.tcti, "--handle", "0x81010010"]
        let oldHash = try await edgeproof(["tpm", "pubkey", "--format", "hash"] + target).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(oldHash.count == 64)

        let refused = try await edgeproof(["tpm", "provision", "--alg", "ecc-p256"] + target)
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("without noDA"), "\(refused.standardError)")
        #expect(refused.standardError.contains("TPM_RC_LOCKOUT"))
        #expect(refused.standardError.contains("edgeproof tpm provision --replace --handle 0x81010010"))
        // Refusing changed nothing.
        let unchanged = try await edgeproof(["tpm", "pubkey", "--format", "hash"] + target).output
        #expect(unchanged.trimmingCharacters(in: .whitespacesAndNewlines) == oldHash)

        let replaced = try await edgeproof(["tpm", "provision", "--alg", "ecc-p256", "--replace"] + target)
        #expect(replaced.status == 0, "\(replaced.standardError)")
        #expect(replaced.output.contains("evicted an ECC P-256 key (tpm_public_key_hash \(oldHash))"))
        #expect(replaced.output.contains("created ECC P-256 signing key at 0x81010010 (noDA)"))
        #expect(replaced.standardError.contains("allowlist entry must change"))
        #expect(replaced.standardError.contains("edgeproof allowlist remove"))
        #expect(replaced.standardError.contains("edgeproof allowlist add"))
        let newHash = try await edgeproof(["tpm", "pubkey", "--format", "hash"] + target).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(newHash != oldHash)
        #expect(replaced.output.contains("tpm_public_key_hash: \(newHash)"))
        let attributes = try await ProcessRunner.run(
            "tpm2_readpublic", ["-c", "0x81010010"], environment: tpm.toolsEnvironment).output
        #expect(attributes.contains("noda"))

        // The new key is a good key: provision (with or without --replace) leaves it alone.
        for flags in [[], ["--replace"]] {
            let again = try await edgeproof(["tpm", "provision", "--alg", "ecc-p256"] + flags + target)
            #expect(again.status == 0)
            #expect(again.output.hasPrefix("already provisioned: "))
            #expect(again.output.contains("tpm_public_key_hash: \(newHash)"))
        }
    }

    @Test("an unreachable TPM and a bad handle give errors, not crashes")
    func reportsUnreachableTPM() async throws {
        let unreachable = try await edgeproof(["tpm", "pubkey", "--tcti", "swtpm:host=127.0.0.1,port=1", "--format", "hash"])
        #expect(unreachable.status == 1)
        #expect(unreachable.standardError.hasPrefix("error: "))
        let badHandle = try await edgeproof(["tpm", "pubkey", "--tcti", "swtpm:host=127.0.0.1,port=1", "--handle", "0x1234"])
        #expect(badHandle.status == 64)
    }
}
