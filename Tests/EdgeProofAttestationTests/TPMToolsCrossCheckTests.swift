import Crypto
import EdgeProofAttestation
import EdgeProofLocalStack
import Foundation
import Testing

/// The verifier's parsing, Names, signatures and MakeCredential against a real swtpm driven by tpm2-tools.
@Suite struct TPMToolsCrossCheckTests {
    @Test func parsesTheAKAndEKPublicAreasTpm2ToolsWrite() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }

        let ak = try TPMPublic(tpm2bPublic: try tools.read("ak.pub"))
        #expect(ak.name == (try tools.read("ak.name")))
        #expect(ak.type == .ecc)
        #expect(ak.ecc?.curve == .nistP256)
        #expect(ak.objectAttributes == [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .restricted,
            .sign])
        #expect(ak.scheme == TPMPublic.Scheme(algorithm: .ecdsa, hash: .sha256))
        _ = try ak.p256PublicKey()

        let ek = try TPMPublic(tpm2bPublic: try tools.read("ek.pub"))
        #expect(ek.type == .rsa)
        #expect(ek.rsa?.keyBits == 2048)
        #expect(ek.rsa?.exponent == 65537)
        #expect(ek.objectAttributes.isSuperset(of: [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .adminWithPolicy,
            .restricted, .decrypt]))
        #expect(ek.symmetric == TPMPublic.Symmetric(algorithm: .aes, keyBits: 128, mode: .cfb))
        #expect(ek.authPolicy.count == 32)
        // tpm2_readpublic's DER is OpenSSL's SubjectPublicKeyInfo of the same key.
        try tools.run("tpm2_readpublic", "-c", "ek.ctx", "-f", "der", "-o", "ek.der")
        #expect(try ek.subjectPublicKeyInfo() == (try tools.read("ek.der")))
    }

    @Test func theTPMActivatesACredentialMadeHere() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }
        let akName = try TPMPublic(tpm2bPublic: try tools.read("ak.pub")).name
        let secret = Data((0..<32).map { UInt8($0 * 7 & 0xff) })

        // The EK from its public area, as the agent sends it.
        let fromArea = try CredentialMaker(endorsementKey: .init(public: TPMPublic(tpm2bPublic: tools.read("ek.pub"))))
        try tools.write(try fromArea.makeCredential(objectName: akName, secret: secret).tpm2ToolsFileRepresentation,
            to: "area.cred")
        // tpm2_makecredential -T none (its own seed, so other bytes) writes the same layout: header, TPM2B_ID_OBJECT
        // of the same size, TPM2B_ENCRYPTED_SECRET.
        try tools.write(secret, to: "secret.bin")
        try tools.run("tpm2_makecredential", "-T", "none", "-u", "ek.pub", "-s", "secret.bin",
            "-n", akName.map { String(format: "%02x", $0) }.joined(), "-o", "tools.cred")
        let ours = try tools.read("area.cred")
        let theirs = try tools.read("tools.cred")
        #expect(ours.count == theirs.count)
        #expect(ours.prefix(12) == theirs.prefix(12))
        #expect(ours.subdata(in: 78..<80) == theirs.subdata(in: 78..<80))
        #expect(try tools.activate("tools.cred").status == 0)
        #expect(try tools.read("activated.out") == secret)

        let first = try tools.activate("area.cred")
        #expect(first.status == 0, "\(first.standardError)")
        #expect(try tools.read("activated.out") == secret)

        // The EK from its SubjectPublicKeyInfo, as the registrar takes it from the EK certificate.
        try tools.run("tpm2_readpublic", "-c", "ek.ctx", "-f", "der", "-o", "ek.der")
        let fromSPKI = try CredentialMaker(endorsementKey: .init(subjectPublicKeyInfo: tools.read("ek.der")))
        let short = Data("residency".utf8)
        try tools.write(try fromSPKI.makeCredential(objectName: akName, secret: short).tpm2ToolsFileRepresentation,
            to: "spki.cred")
        let second = try tools.activate("spki.cred")
        #expect(second.status == 0, "\(second.standardError)")
        #expect(try tools.read("activated.out") == short)
    }

    @Test func theTPMRefusesACredentialMadeForAnotherName() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }
        var otherName = try TPMPublic(tpm2bPublic: try tools.read("ak.pub")).name
        otherName[otherName.count - 1] ^= 0x01
        let maker = try CredentialMaker(endorsementKey: .init(public: TPMPublic(tpm2bPublic: tools.read("ek.pub"))))
        let secret = Data(repeating: 0x42, count: 32)
        try tools.write(try maker.makeCredential(objectName: otherName, secret: secret).tpm2ToolsFileRepresentation,
            to: "other.cred")
        let result = try tools.activate("other.cred")
        #expect(result.status != 0)
        #expect((try? tools.read("activated.out")) != secret)
    }

    @Test func verifiesACertifyOfASigningKeyByTheAK() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }
        try tools.run("tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc", "-c", "primary.ctx")
        try tools.run("tpm2_create", "-C", "primary.ctx", "-G", "ecc:ecdsa-sha256", "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda", "-u", "key.pub", "-r", "key.priv")
        try tools.run("tpm2_load", "-C", "primary.ctx", "-u", "key.pub", "-r", "key.priv", "-c", "key.ctx")
        // tpm2-tools 5.4's tpm2_certify takes no qualifying data (the agent's ESAPI certify binds the nonce; the
        // quote test checks extraData).
        try tools.run("tpm2_certify", "-c", "key.ctx", "-C", "ak.ctx", "-g", "sha256",
            "-o", "certify.attest", "-s", "certify.sig")

        let ak = try TPMPublic(tpm2bPublic: try tools.read("ak.pub"))
        let key = try TPMPublic(tpm2bPublic: try tools.read("key.pub"))
        #expect(key.objectAttributes == [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .noDA, .sign])
        let attest = try TPMAttest(try tools.read("certify.attest"))
        #expect(attest.kind == .certify)
        #expect(attest.certify?.name == key.name)
        #expect(attest.qualifiedSigner.count == 34)
        let signature = try TPMSignature(try tools.read("certify.sig"))
        #expect(signature.algorithm == .ecdsa)
        try ak.verify(signature, over: attest.encoded)

        // The same signature under the signing key itself (not the AK) does not verify.
        #expect(throws: AttestationError.self) { try key.verify(signature, over: attest.encoded) }
    }

    @Test func verifiesAQuoteAndItsPCRDigest() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }
        try tools.run("tpm2_pcrextend", "7:sha256=" + String(repeating: "ab", count: 32))
        let nonce = "cafef00d"
        try tools.run("tpm2_quote", "-c", "ak.ctx", "-l", "sha256:0,1,2,3,4,5,6,7", "-g", "sha256", "-q", nonce,
            "-m", "quote.msg", "-s", "quote.sig", "-o", "quote.pcrs")
        try tools.run("tpm2_pcrread", "sha256:0,1,2,3,4,5,6,7", "-o", "pcrs.bin")

        let ak = try TPMPublic(tpm2bPublic: try tools.read("ak.pub"))
        let attest = try TPMAttest(try tools.read("quote.msg"))
        #expect(attest.kind == .quote)
        #expect(attest.extraData == Data([0xca, 0xfe, 0xf0, 0x0d]))
        let quote = try #require(attest.quote)
        #expect(quote.selections == [TPMAttest.PCRSelection(hash: .sha256, pcrs: Array(0...7))])
        try ak.verify(try TPMSignature(try tools.read("quote.sig")), over: attest.encoded)

        let raw = try tools.read("pcrs.bin")
        try #require(raw.count == 8 * 32)
        var values = stride(from: 0, to: raw.count, by: 32).map { raw.subdata(in: $0..<$0 + 32) }
        #expect(quote.digestMatches(pcrValues: values))
        values[7] = Data(repeating: 0, count: 32)
        #expect(!quote.digestMatches(pcrValues: values))

        var forged = attest.encoded
        forged[forged.count - 1] ^= 0x80
        #expect {
            try ak.verify(try TPMSignature(try tools.read("quote.sig")), over: forged)
        } throws: { error in
            (error as? AttestationError)?.isInvalidSignature == true
        }
    }
}

/// Enrollment's requirements on keys and attestations, against what tpm2-tools makes on a real swtpm.
@Suite struct EnrollmentRequirementTests {
    @Test func acceptsTheAKAndANoDASigningKeyAndRefusesSwappedOrLaxKeys() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }
        try tools.run("tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc", "-c", "primary.ctx")
        try tools.run("tpm2_create", "-C", "primary.ctx", "-G", "ecc:ecdsa-sha256", "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda", "-u", "key.pub", "-r", "key.priv")
        try tools.run("tpm2_create", "-C", "primary.ctx", "-G", "ecc:ecdsa-sha256", "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", "-u", "lax.pub", "-r", "lax.priv")
        // A key made outside the TPM and imported: no fixedTPM, no sensitiveDataOrigin.
        let pem = try ProcessRunner.run("openssl", [
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", tools.file("ext.pem").path,
        ])
        try #require(pem.status == 0)
        try tools.run("tpm2_import", "-C", "primary.ctx", "-G", "ecc", "-i", "ext.pem", "-u", "imported.pub",
            "-r", "imported.priv")
        let ak = try TPMPublic(tpm2bPublic: try tools.read("ak.pub"))
        let key = try TPMPublic(tpm2bPublic: try tools.read("key.pub"))
        let ek = try TPMPublic(tpm2bPublic: try tools.read("ek.pub"))

        try ak.requireAttestationKey()
        try key.requireSigningKey()
        let refusals: [(String, () throws -> Void)] = [
            ("ak_attributes", { try key.requireAttestationKey() }),
            ("ak_attributes", { try ek.requireAttestationKey() }),
            ("signing_key_attributes", { try ak.requireSigningKey() }),
            ("signing_key_attributes", { try TPMPublic(tpm2bPublic: tools.read("lax.pub")).requireSigningKey() }),
            ("signing_key_attributes", { try TPMPublic(tpm2bPublic: tools.read("imported.pub")).requireSigningKey() }),
        ]
        for (check, attempt) in refusals {
            #expect(performing: attempt, throws: { ($0 as? AttestationError)?.refusedCheck == check })
        }
    }

    @Test func checksACertifyAndAQuoteAgainstTheirKeysNonceAndPCRs() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }
        try tools.run("tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc", "-c", "primary.ctx")
        for name in ["key", "other"] {
            try tools.run("tpm2_create", "-C", "primary.ctx", "-G", "ecc:ecdsa-sha256", "-u", "\(name).pub",
                "-r", "\(name).priv")
        }
        try tools.run("tpm2_load", "-C", "primary.ctx", "-u", "key.pub", "-r", "key.priv", "-c", "key.ctx")
        try tools.run("tpm2_certify", "-c", "key.ctx", "-C", "ak.ctx", "-g", "sha256", "-o", "c.attest", "-s", "c.sig")
        let nonce = Data((0..<32).map { UInt8($0) })
        try tools.run("tpm2_quote", "-c", "ak.ctx", "-l", "sha256:0,7", "-g", "sha256",
            "-q", nonce.map { String(format: "%02x", $0) }.joined(), "-m", "q.msg", "-s", "q.sig")
        try tools.run("tpm2_pcrread", "sha256:0,7", "-o", "pcrs.bin")

        let ak = try TPMPublic(tpm2bPublic: try tools.read("ak.pub"))
        let key = try TPMPublic(tpm2bPublic: try tools.read("key.pub"))
        let other = try TPMPublic(tpm2bPublic: try tools.read("other.pub"))
        let certify = try tools.read("c.attest")
        let certifySignature = try tools.read("c.sig")
        let certifyNonce = try TPMAttest(certify).extraData
        _ = try TPMAttest.verifiedCertify(certify, signature: certifySignature, attestationKey: ak,
            certifiedKey: key, qualifyingData: certifyNonce)
        #expect(performing: {
            try TPMAttest.verifiedCertify(certify, signature: certifySignature, attestationKey: ak,
                certifiedKey: other, qualifyingData: certifyNonce)
        }, throws: { ($0 as? AttestationError)?.refusedCheck == "certify_name" })
        #expect(performing: {
            try TPMAttest.verifiedCertify(certify, signature: certifySignature, attestationKey: ak,
                certifiedKey: key, qualifyingData: certifyNonce + Data([0]))
        }, throws: { ($0 as? AttestationError)?.refusedCheck == "qualifying_data" })
        // A certify signed by another key than the AK (the signing key would do, given a forged AK).
        #expect(performing: {
            try TPMAttest.verifiedCertify(certify, signature: certifySignature, attestationKey: key,
                certifiedKey: key, qualifyingData: certifyNonce)
        }, throws: { ($0 as? AttestationError)?.isInvalidSignature == true })

        let quote = try tools.read("q.msg")
        let quoteSignature = try tools.read("q.sig")
        let raw = try tools.read("pcrs.bin")
        let values = [raw.prefix(32), raw.suffix(32)].map { Data($0) }
        _ = try TPMAttest.verifiedQuote(quote, signature: quoteSignature, attestationKey: ak, qualifyingData: nonce,
            pcrValues: values)
        #expect(performing: {
            try TPMAttest.verifiedQuote(quote, signature: quoteSignature, attestationKey: ak, qualifyingData: nonce,
                pcrValues: [values[0]])
        }, throws: { ($0 as? AttestationError)?.refusedCheck == "pcr_digest" })
        #expect(performing: {
            try TPMAttest.verifiedQuote(quote, signature: quoteSignature, attestationKey: ak, qualifyingData: nonce,
                pcrValues: [values[0], Data(repeating: 0xEE, count: 32)])
        }, throws: { ($0 as? AttestationError)?.refusedCheck == "pcr_digest" })
        // A certify where a quote belongs.
        #expect(performing: {
            try TPMAttest.verifiedQuote(certify, signature: certifySignature, attestationKey: ak,
                qualifyingData: certifyNonce, pcrValues: values)
        }, throws: { ($0 as? AttestationError)?.refusedCheck == "quote_type" })
    }
}

extension EnrollmentRequirementTests {
    @Test func acceptsAnRSA2048AKAndVerifiesItsRSASSAQuote() throws {
        let tools = try ToolsTPM.withEKAndAK()
        defer { tools.stop() }
        try tools.run("tpm2_createak", "-C", "ek.ctx", "-c", "rsa-ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa",
            "-u", "rsa-ak.pub", "-n", "rsa-ak.name")
        try tools.run("tpm2_quote", "-c", "rsa-ak.ctx", "-l", "sha256:1", "-g", "sha256", "-q", "0102",
            "-m", "q.msg", "-s", "q.sig")
        try tools.run("tpm2_pcrread", "sha256:1", "-o", "pcr.bin")

        let ak = try TPMPublic(tpm2bPublic: try tools.read("rsa-ak.pub"))
        #expect(ak.name == (try tools.read("rsa-ak.name")))
        try ak.requireAttestationKey()
        let signature = try TPMSignature(try tools.read("q.sig"))
        #expect(signature.algorithm == .rsassa)
        #expect(signature.rsaSignature.count == 256)
        _ = try TPMAttest.verifiedQuote(try tools.read("q.msg"), signature: tools.read("q.sig"), attestationKey: ak,
            qualifyingData: Data([1, 2]), pcrValues: [tools.read("pcr.bin")])
        var forged = try tools.read("q.msg")
        forged[forged.count - 1] ^= 1
        #expect(performing: { try ak.verify(signature, over: forged) },
            throws: { ($0 as? AttestationError)?.isInvalidSignature == true })
    }
}
