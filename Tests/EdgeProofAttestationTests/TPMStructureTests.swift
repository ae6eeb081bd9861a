import Crypto
import EdgeProofAttestation
import Foundation
import Testing

@Suite struct TPMStructureTests {
    @Test func parsesAnECCPublicAreaAndComputesItsName() throws {
        let key = P256.Signing.PrivateKey().publicKey
        let area = TPMBytesBuilder.eccSigningPublic(key)
        let tpm2b = [UInt8(area.count >> 8), UInt8(area.count & 0xff)] + area
        let parsed = try TPMPublic(tpm2bPublic: tpm2b)
        #expect(parsed.type == .ecc)
        #expect(parsed.nameAlgorithm == .sha256)
        #expect(parsed.objectAttributes == [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth,
            .restricted, .sign])
        #expect(parsed.objectAttributes.description
            == "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign")
        #expect(parsed.scheme == TPMPublic.Scheme(algorithm: .ecdsa, hash: .sha256))
        #expect(parsed.ecc?.curve == .nistP256)
        #expect(parsed.name == Data([0x00, 0x0B]) + Data(SHA256.hash(data: area)))
        #expect(try parsed.p256PublicKey().rawRepresentation == key.rawRepresentation)
        #expect(try parsed.subjectPublicKeyInfo() == key.derRepresentation)
        #expect(parsed.tpm2bPublic == Data(tpm2b))
    }

    @Test func refusesATruncatedPublicAreaNamingTheField() throws {
        let area = TPMBytesBuilder.eccSigningPublic(P256.Signing.PrivateKey().publicKey)
        #expect {
            try TPMPublic(tpmtPublic: area.dropLast(3))
        } throws: { error in
            let error = try #require(error as? AttestationError)
            return error.isMalformed && error.structure == "TPMT_PUBLIC.unique.ecc.y"
        }
    }

    @Test func refusesTrailingBytesAfterAPublicArea() throws {
        let area = TPMBytesBuilder.eccSigningPublic(P256.Signing.PrivateKey().publicKey)
        #expect(throws: AttestationError.self) { try TPMPublic(tpmtPublic: area + [0]) }
        // A TPM2B whose size covers less than the structure leaves the rest unparsed: refused too.
        let short = [UInt8((area.count - 1) >> 8), UInt8((area.count - 1) & 0xff)] + area
        #expect(throws: AttestationError.self) { try TPMPublic(tpm2bPublic: short) }
    }

    @Test func refusesAKeyedHashObject() {
        var builder = TPMBytesBuilder()
        builder.u16(0x0008)
        builder.u16(0x000B)
        builder.u32(0)
        builder.sized([UInt8]())
        #expect {
            try TPMPublic(tpmtPublic: builder.bytes)
        } throws: { error in
            (error as? AttestationError)?.isUnsupported == true && "\(error)".contains("keyedhash")
        }
    }

    @Test func parsesACertifyAndVerifiesItsSignature() throws {
        let signer = P256.Signing.PrivateKey()
        let ak = try TPMPublic(tpmtPublic: TPMBytesBuilder.eccSigningPublic(signer.publicKey))
        let name = [UInt8](repeating: 0x11, count: 34)
        let attestBytes = TPMBytesBuilder.certifyAttest(name: name, nonce: [1, 2, 3, 4])
        let attest = try TPMAttest(attestBytes)
        #expect(attest.kind == .certify)
        #expect(attest.extraData == Data([1, 2, 3, 4]))
        #expect(attest.clockInfo == TPMAttest.ClockInfo(clock: 123_456, resetCount: 7, restartCount: 2, safe: true))
        #expect(attest.certify?.name == Data(name))
        #expect(attest.quote == nil)

        let signature = try TPMSignature(TPMBytesBuilder.ecdsaSignature(try signer.signature(for: attestBytes)))
        try ak.verify(signature, over: attest.encoded)

        var tampered = attestBytes
        tampered[tampered.count - 1] ^= 1
        #expect {
            try ak.verify(signature, over: tampered)
        } throws: { error in
            (error as? AttestationError)?.isInvalidSignature == true
        }
        let otherKey = try TPMPublic(tpmtPublic: TPMBytesBuilder.eccSigningPublic(P256.Signing.PrivateKey().publicKey))
        #expect(throws: AttestationError.self) { try otherKey.verify(signature, over: attestBytes) }
    }

    @Test func refusesAnAttestationWithoutTheTPMMagic() {
        let bytes = TPMBytesBuilder.certifyAttest(name: [0, 0x0B] + [UInt8](repeating: 0, count: 32), nonce: [],
            magic: 0xff54_4348)
        #expect {
            try TPMAttest(bytes)
        } throws: { error in
            (error as? AttestationError)?.structure == "TPMS_ATTEST.magic"
        }
    }

    @Test func refusesARSAPSSSignature() {
        var builder = TPMBytesBuilder()
        builder.u16(0x0016)
        builder.u16(0x000B)
        builder.sized([UInt8](repeating: 1, count: 256))
        #expect {
            try TPMSignature(builder.bytes)
        } throws: { error in
            (error as? AttestationError)?.isUnsupported == true && "\(error)".contains("rsapss")
        }
    }
}
