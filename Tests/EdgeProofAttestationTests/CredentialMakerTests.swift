import Crypto
import EdgeProofAttestation
import Foundation
import Testing
import _CryptoExtras

@Suite struct CredentialMakerTests {
    private static func maker() throws -> CredentialMaker {
        let ek = try _RSA.Encryption.PrivateKey(keySize: .bits2048).publicKey
        return CredentialMaker(endorsementKey: try .init(subjectPublicKeyInfo: ek.derRepresentation))
    }

    private static let akName = Data([0x00, 0x0B]) + Data(repeating: 0x5A, count: 32)

    @Test func producesTheTPM2BSizesOfTheSpecification() throws {
        let credential = try Self.maker().makeCredential(objectName: Self.akName, secret: Data(repeating: 7, count: 32))
        // TPM2B_ID_OBJECT: size, TPM2B_DIGEST of the outer HMAC (2 + 32), the encrypted TPM2B of the secret (2 + 32).
        #expect(credential.credentialBlob.count == 2 + 34 + 34)
        #expect(credential.credentialBlob.prefix(4) == Data([0x00, 0x44, 0x00, 0x20]))
        // TPM2B_ENCRYPTED_SECRET: size, then one RSA-2048 block.
        #expect(credential.encryptedSecret.count == 2 + 256)
        #expect(credential.encryptedSecret.prefix(2) == Data([0x01, 0x00]))
        let file = credential.tpm2ToolsFileRepresentation
        #expect(file.prefix(8) == Data([0xBA, 0xDC, 0xC0, 0xDE, 0, 0, 0, 1]))
        #expect(file.count == 8 + 70 + 258)
    }

    @Test func usesAFreshSeedForEveryCredential() throws {
        let maker = try Self.maker()
        let first = try maker.makeCredential(objectName: Self.akName, secret: Data("s".utf8))
        let second = try maker.makeCredential(objectName: Self.akName, secret: Data("s".utf8))
        #expect(first.encryptedSecret != second.encryptedSecret)
        #expect(first.credentialBlob != second.credentialBlob)
    }

    @Test(arguments: [0, 33])
    func refusesASecretOutsideOneTo32Bytes(_ count: Int) throws {
        let maker = try Self.maker()
        #expect(throws: AttestationError.self) {
            try maker.makeCredential(objectName: Self.akName, secret: Data(repeating: 1, count: count))
        }
    }

    @Test func refusesANameThatIsNotAlgorithmAndDigest() throws {
        let maker = try Self.maker()
        #expect(throws: AttestationError.self) {
            try maker.makeCredential(objectName: Self.akName.dropLast(), secret: Data([1]))
        }
        #expect(throws: AttestationError.self) {
            try maker.makeCredential(objectName: Data([0x00, 0x99]) + Self.akName.dropFirst(2), secret: Data([1]))
        }
    }

    @Test func refusesAnEndorsementKeyThatIsNotRSA2048() throws {
        let ecc = P256.Signing.PrivateKey().publicKey.derRepresentation
        #expect(throws: AttestationError.self) { try CredentialMaker.EndorsementKey(subjectPublicKeyInfo: ecc) }
        let rsa3072 = try _RSA.Encryption.PrivateKey(keySize: .bits3072).publicKey.derRepresentation
        #expect(throws: AttestationError.self) { try CredentialMaker.EndorsementKey(subjectPublicKeyInfo: rsa3072) }
    }
}
