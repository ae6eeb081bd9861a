import Crypto
import EdgeProofCore
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Testing

/// The device side of attested enrollment against a swtpm manufactured with EK certificates from a local CA,
/// checked with independent tools: openssl for the certificate, tpm2_makecredential for the credential,
/// swift-crypto for the AK's signatures.
@Suite struct TPMAttestationTests {
    static let akHandle = try! PersistentHandle(0x8100_0011)

    @Test func ekCertificateHoldsTheRecreatedEndorsementKey() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        let (certificates, ek) = try await tpm.withDevice { device in
            let certificates = try await device.endorsementCertificates()
            let ek = try await device.endorsementKey()
            try await device.flushEndorsementKey()
            return (certificates, ek)
        }
        // swtpm 0.7.1 writes the RSA-2048 and the P-384 EK certificates; no P-256 one.
        #expect(certificates.map(\.index) == [0x01C0_0002, 0x01C0_0016])
        let rsa = try #require(certificates.first)
        let certificateFile = tpm.directory.appending("ek.der")
        try Data(rsa.der).write(to: certificateFile)
        let modulus = try openssl(["x509", "-inform", "DER", "-in", certificateFile.path, "-noout", "-modulus"],
            in: tpm.directory).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(modulus == "Modulus=" + hex(ek.modulus).uppercased())
        #expect(ek.modulus.count == 256)
        // The EK public hash is the SHA-256 of the certificate's own SubjectPublicKeyInfo.
        let pem = try openssl(["x509", "-inform", "DER", "-in", certificateFile.path, "-noout", "-pubkey"],
            in: tpm.directory).standardOutput
        let spki = try openssl(["pkey", "-pubin", "-outform", "DER"], input: pem, in: tpm.directory).standardOutput
        #expect(ek.publicKey.hash.hex == hex(Array(SHA256.hash(data: spki))))
        // The certificate chains to the manufacturer's CA (its issuer is the intermediate).
        let manufacturer = try #require(tpm.manufacturer)
        let issuer = try openssl(["x509", "-inform", "DER", "-in", certificateFile.path, "-noout", "-issuer"],
            in: tpm.directory).output
        #expect(issuer.contains("swtpm-localca"))
        #expect(FileManager.default.fileExists(atPath: manufacturer.rootCertificate.path))
        // The handle was flushed: nothing stays loaded.
        #expect(ek.transientHandle & 0xFF00_0000 == 0x8000_0000)
        #expect(try tpm.transientHandles().isEmpty)
    }

    @Test func readsAnOwnerReadableIndexInChunksAndSkipsAbsentOnes() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        #expect(try await tpm.withDevice { device in try await device.endorsementCertificates() }.isEmpty)
        // Some hardware TPMs let only the owner read their EK certificate; 1,300 bytes take three reads.
        let content = (0..<1300).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try Data(content).write(to: tpm.directory.appending("blob"))
        _ = try tpm.tool("tpm2_nvdefine", ["0x01c0000a", "-C", "o", "-s", "1300", "-a", "ownerread|ownerwrite|no_da"])
        _ = try tpm.tool("tpm2_nvwrite", ["0x01c0000a", "-C", "o", "-i", "blob"])
        let certificates = try await tpm.withDevice { device in try await device.endorsementCertificates() }
        #expect(certificates == [TPMEndorsementCertificate(index: 0x01C0_000A, der: content)])
    }

    @Test func ekFromTheTemplateEqualsTheOneSwtpmSetupPersisted() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        let ek = try await tpm.withDevice { device in
            let ek = try await device.endorsementKey()
            try await device.flushEndorsementKey()
            return ek
        }
        // swtpm_setup persisted its EK at 0x81010001 from the same TCG template: an empty `unique` would differ.
        let persisted = try tpm.tool("tpm2_readpublic", ["-c", "0x81010001", "-o", "persisted.pub"])
        #expect(persisted.status == 0)
        let bytes = try Data(contentsOf: tpm.directory.appending("persisted.pub"))
        #expect([UInt8](bytes) == ek.object.publicArea)
    }

    @Test func activatesACredentialMadeForTheAttestationKeyOnly() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            let ak = try await device.provisionAttestationKey(at: Self.akHandle)
            let ek = try await device.endorsementKey()
            try Data(ek.object.publicArea).write(to: tpm.directory.appending("ek.pub"))
            let secret = Array("registrar challenge 0123456789ab".utf8)

            // With the EK that endorsementKey() keeps loaded, then with one recreated for the call alone.
            let credential = try makeCredential(secret, name: ak.object.name, tpm: tpm)
            let activated = try await device.activateCredential(
                credential.blob, encryptedSecret: credential.secret, attestationKey: Self.akHandle)
            #expect(activated == secret)
            try await device.flushEndorsementKey()
            #expect(try tpm.transientHandles().isEmpty)
            let again = try makeCredential(secret, name: ak.object.name, tpm: tpm)
            #expect(again.secret != credential.secret)  // a new seed each time
            let reactivated = try await device.activateCredential(
                again.blob, encryptedSecret: again.secret, attestationKey: Self.akHandle)
            #expect(reactivated == secret)
            #expect(try tpm.transientHandles().isEmpty)

            // A credential for another name (the signing key's) does not open with the AK.
            let signingKey = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            #expect(signingKey.created)
            let other = try await device.objectPublic(at: .defaultSigningKey)
            let foreign = try makeCredential(secret, name: other.name, tpm: tpm)
            await #expect(throws: TPMError.self) {
                try await device.activateCredential(
                    foreign.blob, encryptedSecret: foreign.secret, attestationKey: Self.akHandle)
            }
            #expect(try tpm.transientHandles().isEmpty)
        }
    }

    @Test func attestationKeyHasExactlyTheRestrictedSigningAttributes() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        let (first, second) = try await tpm.withDevice { device in
            (try await device.provisionAttestationKey(at: Self.akHandle),
                try await device.provisionAttestationKey(at: Self.akHandle))
        }
        #expect(first.created)
        #expect(!second.created)
        #expect(second.object == first.object)
        var reader = ByteReader(first.object.publicArea)
        #expect(try reader.u16() == first.object.publicArea.count - 2)
        #expect(try reader.u16() == 0x0023)  // TPM2_ALG_ECC
        #expect(try reader.u16() == 0x000B)  // nameAlg SHA-256
        // fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | sign
        #expect(try reader.u32() == 0x0000_0002 | 0x10 | 0x20 | 0x40 | 0x400 | 0x1_0000 | 0x4_0000)
        // The name is nameAlg ‖ SHA-256(TPMT_PUBLIC).
        #expect(first.object.name == [0x00, 0x0B] + Array(SHA256.hash(data: first.object.publicArea.dropFirst(2))))
        // tpm2-tools reads the same attributes back.
        let listed = try tpm.tool("tpm2_readpublic", ["-c", Self.akHandle.description]).output
        #expect(listed.contains("fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign"))
        #expect(try tpm.transientHandles().isEmpty)
    }

    @Test func refusesAnotherKeyAtTheAttestationKeyHandle() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            // An unrestricted signing key could sign a forged TPMS_ATTEST: it is no AK.
            _ = try await device.provisionSigningKey(.eccP256, at: Self.akHandle)
            let error = try await #require(throws: TPMError.self) {
                try await device.provisionAttestationKey(at: Self.akHandle)
            }
            #expect(error.description.contains("not an EdgeProof attestation key"))
            // The key that was there is untouched.
            #expect(try tpm.tool("tpm2_readpublic", ["-c", Self.akHandle.description]).output.contains("|sign"))
        }
        #expect(try tpm.transientHandles().isEmpty)
    }

    @Test func refusesQualifyingDataLongerThanATPMTakes() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            _ = try await device.provisionAttestationKey(at: Self.akHandle)
            _ = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            let error = try await #require(throws: TPMError.self) {
                try await device.certify(
                    .defaultSigningKey, by: Self.akHandle, qualifyingData: [UInt8](repeating: 1, count: 65))
            }
            #expect(error.description == "qualifying data has 65 bytes; a TPM takes at most 64")
            // 64 bytes (a SHA-512 digest) fit.
            let evidence = try await device.certify(
                .defaultSigningKey, by: Self.akHandle, qualifyingData: [UInt8](repeating: 1, count: 64))
            #expect(try Attest(evidence.attest).extraData == [UInt8](repeating: 1, count: 64))
        }
    }

    @Test func certifySignedByTheAttestationKeyNamesTheSigningKey() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        let nonce = Array(SHA256.hash(data: Data("certify nonce".utf8)))
        let (ak, signingKey, evidence) = try await tpm.withDevice { device in
            let ak = try await device.provisionAttestationKey(at: Self.akHandle)
            _ = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            let signingKey = try await device.objectPublic(at: .defaultSigningKey)
            let evidence = try await device.certify(.defaultSigningKey, by: Self.akHandle, qualifyingData: nonce)
            return (ak, signingKey, evidence)
        }
        #expect(try verifies(evidence, by: ak))
        var tampered = evidence.attest
        tampered[tampered.count - 1] ^= 1
        #expect(try !verifies(TPMAttestationEvidence(attest: tampered, signature: evidence.signature), by: ak))

        let attest = try Attest(evidence.attest)
        #expect(attest.magic == 0xFF54_4347)
        #expect(attest.type == 0x8017)  // TPM_ST_ATTEST_CERTIFY
        #expect(attest.extraData == nonce)
        var certified = ByteReader(attest.attested)
        #expect(try certified.sized() == signingKey.name)
        #expect(signingKey.name == [0x00, 0x0B] + Array(SHA256.hash(data: signingKey.publicArea.dropFirst(2))))
        #expect(try tpm.transientHandles().isEmpty)
    }

    @Test func quoteSignsTheDigestOfTheReturnedPCRValues() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        // Measured values, so that the digest is not that of zeros alone.
        _ = try tpm.tool("tpm2_pcrextend", ["7:sha256=" + String(repeating: "ab", count: 32)])
        _ = try tpm.tool("tpm2_pcrextend", ["16:sha256=" + String(repeating: "cd", count: 32)])
        let nonce = Array("quote nonce".utf8)
        let wide = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 23]
        let (ak, quote, wideQuote) = try await tpm.withDevice { device in
            let ak = try await device.provisionAttestationKey(at: Self.akHandle)
            let quote = try await device.quote(by: Self.akHandle, qualifyingData: nonce)
            let wideQuote = try await device.quote(pcrs: wide, by: Self.akHandle, qualifyingData: nonce)
            return (ak, quote, wideQuote)
        }
        #expect(quote.pcrValues.map(\.index) == Array(0...7))
        #expect(wideQuote.pcrValues.map(\.index) == wide)
        #expect(quote.pcrValues[7].digest != [UInt8](repeating: 0, count: 32))
        let pcr16 = try tpm.tool("tpm2_pcrread", ["sha256:16"]).output.lowercased()
        #expect(pcr16.contains(hex(wideQuote.pcrValues[11].digest)))
        for (q, pcrs) in [(quote, Array(0...7)), (wideQuote, wide)] {
            #expect(try verifies(q.evidence, by: ak))
            let attest = try Attest(q.evidence.attest)
            #expect(attest.magic == 0xFF54_4347)
            #expect(attest.type == 0x8018)  // TPM_ST_ATTEST_QUOTE
            #expect(attest.extraData == nonce)
            var quoted = ByteReader(attest.attested)
            #expect(try quoted.u32() == 1)  // one bank
            #expect(try quoted.u16() == 0x000B)  // SHA-256
            let size = try quoted.u8()
            let bitmap = try quoted.take(Int(size))
            #expect((0..<Int(size) * 8).filter { bitmap[$0 / 8] & (1 << ($0 % 8)) != 0 } == pcrs)
            let concatenated = q.pcrValues.flatMap(\.digest)
            #expect(try quoted.sized() == Array(SHA256.hash(data: concatenated)))
        }
        await #expect(throws: TPMError.self) {
            try await tpm.withDevice { device in
                try await device.quote(pcrs: [24], by: Self.akHandle, qualifyingData: nonce)
            }
        }
    }

    // MARK: - Helpers

    /// tpm2_makecredential without a TPM (-T none) for `name` and the EK public in ek.pub; its output file is
    /// magic, version, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
    private func makeCredential(_ secret: [UInt8], name: [UInt8], tpm: SoftwareTPM) throws
        -> (blob: [UInt8], secret: [UInt8])
    {
        try Data(secret).write(to: tpm.directory.appending("secret.bin"))
        let result = try ProcessRunner.run(
            "tpm2_makecredential",
            ["-T", "none", "-u", "ek.pub", "-s", "secret.bin", "-n", hex(name), "-o", "credential.out"],
            currentDirectory: tpm.directory.url)
        guard result.status == 0 else { throw TestFixtureError("tpm2_makecredential: \(result.standardError)") }
        var reader = ByteReader([UInt8](try Data(contentsOf: tpm.directory.appending("credential.out"))))
        #expect(try reader.u32() == 0xBADC_C0DE)
        #expect(try reader.u32() == 1)
        return (try reader.sized(), try reader.sized())
    }

    /// Checks a TPMT_SIGNATURE (ECDSA, SHA-256, r and s as TPM2B) over `attest` with the AK's P-256 key.
    private func verifies(_ evidence: TPMAttestationEvidence, by ak: TPMAttestationKey) throws -> Bool {
        var reader = ByteReader(evidence.signature)
        #expect(try reader.u16() == 0x0018)  // TPM_ALG_ECDSA
        #expect(try reader.u16() == 0x000B)  // SHA-256
        let r = try reader.sized()
        let s = try reader.sized()
        let raw = [UInt8](repeating: 0, count: 32 - r.count) + r + [UInt8](repeating: 0, count: 32 - s.count) + s
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: raw)
        let key = try P256.Signing.PublicKey(derRepresentation: ak.publicKey.derRepresentation)
        return key.isValidSignature(signature, for: Data(evidence.attest))
    }
}

/// The few TPMS_ATTEST fields these tests check; `attested` is the type-specific rest.
private struct Attest {
    let magic: UInt32
    let type: UInt16
    let extraData: [UInt8]
    let attested: [UInt8]

    init(_ bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        magic = try reader.u32()
        type = UInt16(try reader.u16())
        _ = try reader.sized()  // qualifiedSigner
        extraData = try reader.sized()
        _ = try reader.take(8 + 4 + 4 + 1)  // clockInfo: clock, resetCount, restartCount, safe
        _ = try reader.take(8)  // firmwareVersion
        attested = try reader.take(bytes.count - reader.offset)
    }
}

/// Big-endian reads of TPM marshalled structures.
private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ count: Int) throws -> [UInt8] {
        guard count >= 0, offset + count <= bytes.count else { throw TestFixtureError("truncated at \(offset)") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func u8() throws -> UInt8 { try take(1)[0] }
    mutating func u16() throws -> Int { try take(2).reduce(Int(0)) { $0 << 8 | Int($1) } }
    mutating func u32() throws -> UInt32 { try take(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
    /// A TPM2B: two-byte size, then that many bytes.
    mutating func sized() throws -> [UInt8] { try take(try u16()) }
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}
