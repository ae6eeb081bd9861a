import Crypto
import EdgeProofCore
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Testing

@Suite struct TPMDeviceTests {
    @Test(arguments: TPMKeyAlgorithm.allCases)
    func provisioningIsIdempotent(_ algorithm: TPMKeyAlgorithm) async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let (first, second) = try await tpm.withDevice { device in
            let first = try await device.provisionSigningKey(algorithm, at: .defaultSigningKey)
            let second = try await device.provisionSigningKey(algorithm, at: .defaultSigningKey)
            return (first, second)
        }
        #expect(first.created)
        #expect(!second.created)
        #expect(first.publicKey.hash == second.publicKey.hash)
        #expect(first.publicKey.algorithm == algorithm.signatureAlgorithm)
        #expect(first.publicKey.keyDescription == algorithm.displayName)

        // A new connection (a restarted agent) finds the same key.
        let reread = try await tpm.withDevice { device in
            try await device.provisionSigningKey(algorithm, at: .defaultSigningKey)
        }
        #expect(!reread.created)
        #expect(reread.publicKey.hash == first.publicKey.hash)
        #expect(try tpm.transientHandles().isEmpty)
    }

    @Test func flushesTransientObjectsOnSuccessAndFailure() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let failure = try await tpm.withDevice { device -> TPMError? in
            _ = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            #expect(try tpm.transientHandles().isEmpty)
            // Fill the TPM's NV until EvictControl fails, after the primary and the child were loaded
            // (libtpms holds about 65 ECC keys; swtpm has only three slots for loaded objects).
            for offset in UInt32(0)..<400 {
                do throws(TPMError) {
                    _ = try await device.provisionSigningKey(.eccP256, at: try PersistentHandle(0x8100_0000 + offset))
                } catch {
                    return error
                }
            }
            return nil
        }
        let error = try #require(failure)
        #expect(error.description.hasPrefix("Esys_EvictControl (0x810000"))
        #expect(try tpm.transientHandles().isEmpty)
    }

    @Test(arguments: TPMKeyAlgorithm.allCases)
    func refusesToProvisionOverAKeyOfAnotherAlgorithm(_ algorithm: TPMKeyAlgorithm) async throws {
        let other: TPMKeyAlgorithm = algorithm == .eccP256 ? .rsa2048 : .eccP256
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let existing = try await device.provisionSigningKey(algorithm, at: .defaultSigningKey)
            let error = try await #require(throws: TPMError.self) {
                try await device.provisionSigningKey(other, at: .defaultSigningKey)
            }
            #expect(
                error.description
                    == "handle 0x81020010 holds an \(algorithm.displayName) key, not \(other.displayName);"
                    + " use another handle or evict it")
            // The key that was there is untouched.
            #expect(try await device.publicKey(at: .defaultSigningKey).hash == existing.publicKey.hash)
        }
    }

    @Test func provisionsKeysAtSeveralHandles() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let second = try PersistentHandle(parsing: "0x81010011")
            let ecc = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            let rsa = try await device.provisionSigningKey(.rsa2048, at: second)
            #expect(ecc.created && rsa.created)
            #expect(try await device.publicKey(at: .defaultSigningKey).algorithm == .es256)
            #expect(try await device.publicKey(at: second).algorithm == .rs256)
        }
    }

    @Test func reportsAnEmptyHandle() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let error = try await #require(throws: TPMError.self) {
                try await device.publicKey(at: .defaultSigningKey)
            }
            #expect(error.description.hasPrefix("handle 0x81020010 holds no key"))
            let signError = try await #require(throws: TPMError.self) {
                let digest = Array(SHA256.hash(data: Data()))
                return try await device.sign(digest: digest, with: .defaultSigningKey, algorithm: .es256)
            }
            #expect(signError.description.hasPrefix("handle 0x81020010 holds no key"))
        }
    }

    @Test func noticesAKeyEvictedBehindItsBack() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let first = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            let message = Data("before".utf8)
            let digest = Array(SHA256.hash(data: message))
            _ = try await device.sign(digest: digest, with: .defaultSigningKey, algorithm: .es256)
            // The swtpm TCTI connects per command, so tools can run while the device is open.
            _ = try tpm.tool("tpm2_evictcontrol", ["-C", "o", "-c", "0x81020010"])

            let signError = try await #require(throws: TPMError.self) {
                try await device.sign(digest: digest, with: .defaultSigningKey, algorithm: .es256)
            }
            #expect(signError.description.hasPrefix("handle 0x81020010 holds no key"))
            let again = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            #expect(again.created)
            #expect(again.publicKey.hash != first.publicKey.hash)
            let signature = try await device.sign(digest: digest, with: .defaultSigningKey, algorithm: .es256)
            #expect(again.publicKey.isValidSignature(signature, for: message))
        }
    }

    @Test func refusesAKeyThatIsNotSignOnly() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        // A storage key (restricted | decrypt) made with tpm2-tools, flushing as it goes (no resource manager).
        _ = try tpm.tool("tpm2_createprimary", ["-C", "o", "-G", "ecc256", "-c", "primary.ctx", "-Q"])
        _ = try tpm.tool("tpm2_evictcontrol", ["-C", "o", "-c", "primary.ctx", "0x81020010"])
        _ = try tpm.tool("tpm2_flushcontext", ["-t"])
        try await tpm.withDevice { device in
            let error = try await #require(throws: TPMError.self) {
                try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            }
            #expect(error.description.contains("holds an ECC P-256 key that is not a sign-only key"))
            #expect(error.description.contains("restricted|decrypt"))
        }
    }

    @Test(arguments: TPMKeyAlgorithm.allCases)
    func signingKeyHasExactlyTheSignOnlyAttributes(_ algorithm: TPMKeyAlgorithm) async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        _ = try await tpm.withDevice { device in
            try await device.provisionSigningKey(algorithm, at: .defaultSigningKey)
        }
        let output = try tpm.tool("tpm2_readpublic", ["-c", "0x81020010"]).output
        // tpm2-tools 5.4 prints "attributes:\n  value: fixedtpm|fixedparent|...\n  raw: 0x40072".
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let index = try #require(lines.firstIndex(of: "attributes:"))
        let value = try #require(lines.dropFirst(index + 1).first { $0.hasPrefix("value:") })
        let attributes = Set(value.dropFirst("value:".count).trimmingCharacters(in: .whitespaces).split(separator: "|"))
        #expect(attributes == ["fixedtpm", "fixedparent", "sensitivedataorigin", "userwithauth", "noda", "sign"])
        #expect(!attributes.contains("decrypt") && !attributes.contains("restricted"))
        #expect(output.contains(algorithm == .eccP256 ? "scheme:\n  value: ecdsa" : "scheme:\n  value: rsassa"))
    }

    @Test(arguments: TPMKeyAlgorithm.allCases)
    func publicKeyHashMatchesOpenSSL(_ algorithm: TPMKeyAlgorithm) async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let key = try await tpm.withDevice { device in
            _ = try await device.provisionSigningKey(algorithm, at: .defaultSigningKey)
            return try await device.publicKey(at: .defaultSigningKey)
        }
        let work = tpm.directory
        try Data(key.pemRepresentation.utf8).write(to: work.appending("ours.pem"))
        let der = try openssl(["pkey", "-pubin", "-in", "ours.pem", "-outform", "DER"], in: work).standardOutput
        #expect(SHA256.hash(data: der).hex == key.hash.hex)

        // tpm2-tools' own PEM export of the same key hashes the same.
        _ = try tpm.tool("tpm2_readpublic", ["-c", "0x81020010", "-f", "pem", "-o", "tools.pem"])
        let toolsDER = try openssl(["pkey", "-pubin", "-in", "tools.pem", "-outform", "DER"], in: work).standardOutput
        #expect(SHA256.hash(data: toolsDER).hex == key.hash.hex)
    }

    @Test func closedPortFailsWithAReadableError() throws {
        let port = try FreePort.next()
        let error = try #require(throws: TPMError.self) {
            try TPMDevice(tcti: "swtpm:host=127.0.0.1,port=\(port)")
        }
        #expect(error.description.contains("swtpm:host=127.0.0.1,port=\(port)"))
        #expect(error.description.contains("Tss2_TctiLdr_Initialize"))
        #expect(error.code != nil)
    }

    @Test func unknownTCTIFailsWithAReadableError() throws {
        let error = try #require(throws: TPMError.self) {
            try TPMDevice(tcti: "no-such-tcti:whatever")
        }
        #expect(error.description.contains("no-such-tcti"))
    }

    @Test func rejectsDigestsOfTheWrongLength() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let error = try await #require(throws: TPMError.self) {
                try await device.sign(digest: [1, 2, 3], with: .defaultSigningKey, algorithm: .es256)
            }
            #expect(error.description == "a SHA-256 digest has 32 bytes, got 3")
        }
    }
}

extension Digest {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
