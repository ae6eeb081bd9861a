import Crypto
import Foundation
import _CryptoExtras

/// TPM2_MakeCredential done outside the TPM (TPM 2.0 Part 1, 24 and B.10.4; Part 3, 12.6): a secret only the
/// TPM holding the EK's private key, and holding a loaded object of the given Name, can recover with
/// TPM2_ActivateCredential.
public struct CredentialMaker: Sendable {
    /// The EK's key and the parameters MakeCredential takes from its public area.
    public struct EndorsementKey: Sendable {
        let subjectPublicKeyInfo: Data
        let symmetricKeyBytes: Int

        /// An RSA EK from its DER SubjectPublicKeyInfo (as in the EK certificate). The rest is the TCG EK
        /// template's (EK Credential Profile, template L-1): nameAlg SHA-256, AES-128-CFB.
        public init(subjectPublicKeyInfo der: Data) throws {
            let key: _RSA.Encryption.PublicKey
            do {
                key = try _RSA.Encryption.PublicKey(derRepresentation: der)
            } catch {
                throw AttestationError.malformed(
                    "SubjectPublicKeyInfo", "not an RSA key of 2048 bits or more: \(error)")
            }
            guard key.keySizeInBits == 2048 else {
                throw AttestationError.unsupported("SubjectPublicKeyInfo", "\(key.keySizeInBits)-bit RSA EK")
            }
            self.subjectPublicKeyInfo = key.derRepresentation
            self.symmetricKeyBytes = 16
        }

        /// An RSA-2048 EK from its public area: a restricted decryption key with nameAlg SHA-256 and AES-CFB
        /// (128 or 256 bits), as every TCG RSA EK template makes it.
        public init(public area: TPMPublic) throws {
            guard area.type == .rsa, let rsa = area.rsa, rsa.keyBits == 2048 else {
                throw AttestationError.unsupported("EK TPMT_PUBLIC", "\(area.type) key, not RSA-2048")
            }
            guard area.objectAttributes.isSuperset(of: [.restricted, .decrypt]) else {
                throw AttestationError.unsupported(
                    "EK TPMT_PUBLIC.objectAttributes", "\(area.objectAttributes): not a restricted decryption key")
            }
            guard area.nameAlgorithm == .sha256 else {
                throw AttestationError.unsupported("EK TPMT_PUBLIC.nameAlg", "\(area.nameAlgorithm), not sha256")
            }
            let symmetric = area.symmetric
            guard symmetric.algorithm == .aes, symmetric.mode == .cfb,
                symmetric.keyBits == 128 || symmetric.keyBits == 256
            else {
                throw AttestationError.unsupported(
                    "EK TPMT_PUBLIC.parameters.symmetric",
                    "\(symmetric.algorithm)-\(symmetric.keyBits)-\(symmetric.mode), not AES-CFB")
            }
            self.subjectPublicKeyInfo = try area.subjectPublicKeyInfo()
            self.symmetricKeyBytes = Int(symmetric.keyBits) / 8
        }
    }

    /// TPM2_MakeCredential's outputs, each in its marshalled TPM2B form (UInt16 size first).
    public struct Credential: Sendable, Equatable {
        /// TPM2B_ID_OBJECT: the outer HMAC (as a TPM2B_DIGEST) and the encrypted TPM2B_DIGEST of the secret.
        public let credentialBlob: Data
        /// TPM2B_ENCRYPTED_SECRET: the seed under RSA-OAEP to the EK.
        public let encryptedSecret: Data

        /// The file `tpm2_makecredential -o` writes and `tpm2_activatecredential -i` reads: the magic
        /// 0xBADCC0DE and version 1 (both UInt32, big-endian), then the two TPM2Bs.
        public var tpm2ToolsFileRepresentation: Data {
            var writer = TPMWriter()
            writer.uint32(0xBADC_C0DE)
            writer.uint32(1)
            writer.raw(credentialBlob)
            writer.raw(encryptedSecret)
            return Data(writer.bytes)
        }
    }

    private let endorsementKey: EndorsementKey

    public init(endorsementKey: EndorsementKey) {
        self.endorsementKey = endorsementKey
    }

    /// Makes a credential for the object of Name `objectName` (the AK's, nameAlg ‖ digest) carrying `secret`
    /// (1 to 32 bytes: a TPM2B_DIGEST of the EK's nameAlg, SHA-256).
    public func makeCredential(objectName: Data, secret: Data) throws -> Credential {
        // The seed is as long as the digest of the EK's nameAlg (Part 1, B.10.4), 32 bytes for SHA-256.
        var generator = SystemRandomNumberGenerator()
        let seed = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        return try makeCredential(objectName: objectName, secret: secret, seed: seed)
    }

    /// The deterministic core, with the seed given (tests pin it).
    func makeCredential(objectName: Data, secret: Data, seed: Data) throws -> Credential {
        guard (1...32).contains(secret.count) else {
            throw AttestationError.malformed("MakeCredential.credential", "\(secret.count) bytes, not 1 to 32")
        }
        let name = [UInt8](objectName)
        guard name.count >= 2, let size = TPMAlgorithm(rawValue: UInt16(name[0]) << 8 | UInt16(name[1])).digestSize,
            name.count == 2 + size
        else {
            throw AttestationError.malformed(
                "MakeCredential.objectName", "\(objectName.count) bytes, not nameAlg ‖ digest")
        }
        // "IDENTITY" with its terminating zero is the OAEP label (Part 1, B.10.4).
        let encryptedSeed = try OpenSSLEVP.encryptOAEPSHA256(
            seed, label: Data("IDENTITY\0".utf8), subjectPublicKeyInfo: endorsementKey.subjectPublicKeyInfo)
        let symmetricKey = Self.kdfa(
            key: seed, label: "STORAGE", contextU: objectName, bits: endorsementKey.symmetricKeyBytes * 8)
        var plaintext = TPMWriter()
        plaintext.sized(secret)
        // The IV is zero: the key is fresh for every seed (Part 1, 22.4, "Protected Storage Hierarchy").
        let encryptedIdentity = try OpenSSLEVP.encryptAESCFB(
            Data(plaintext.bytes), key: symmetricKey, iv: Data(repeating: 0, count: 16))
        let hmacKey = Self.kdfa(key: seed, label: "INTEGRITY", contextU: Data(), bits: 256)
        let outerHMAC = HMAC<SHA256>.authenticationCode(
            for: encryptedIdentity + objectName, using: SymmetricKey(data: hmacKey))

        var idObject = TPMWriter()
        idObject.sized(Data(outerHMAC))
        idObject.raw(encryptedIdentity)
        var blob = TPMWriter()
        blob.sized(idObject.bytes)
        var secretBlob = TPMWriter()
        secretBlob.sized(encryptedSeed)
        return Credential(credentialBlob: Data(blob.bytes), encryptedSecret: Data(secretBlob.bytes))
    }

    /// KDFa (TPM 2.0 Part 1, 11.4.10.2: SP 800-108 in counter mode with HMAC-SHA256): HMAC(key, counter ‖ label ‖
    /// 0 ‖ contextU ‖ contextV ‖ bits) for counter 1, 2, … until `bits` are produced, truncated to them.
    static func kdfa(key: Data, label: String, contextU: Data, contextV: Data = Data(), bits: Int) -> Data {
        let hmacKey = SymmetricKey(data: key)
        var output = Data()
        var counter: UInt32 = 1
        while output.count * 8 < bits {
            var block = TPMWriter()
            block.uint32(counter)
            block.raw(Data(label.utf8) + [0])
            block.raw(contextU)
            block.raw(contextV)
            block.uint32(UInt32(bits))
            output.append(contentsOf: HMAC<SHA256>.authenticationCode(for: block.bytes, using: hmacKey))
            counter += 1
        }
        return output.prefix((bits + 7) / 8)
    }
}
