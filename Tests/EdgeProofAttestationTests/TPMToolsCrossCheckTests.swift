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
