import Foundation
import _CryptoExtras

extension TPMPublic {
    /// PolicyA of the TCG EK Credential Profile (2.1.5.1): PolicySecret(TPM_RH_ENDORSEMENT) under SHA-256, the
    /// authPolicy of every SHA-256 EK template.
    public static let endorsementPolicySHA256 = Data([
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
        0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
    ])

    /// The public area the TCG EK Credential Profile's default RSA template (template L-1: RSA-2048, SHA-256,
    /// fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt, PolicyA, AES-128-CFB,
    /// exponent 0) gives with the modulus of `subjectPublicKeyInfo` (the EK certificate's key). An EK public area
    /// an agent presents is genuine for that certificate when it equals this, byte for byte.
    public static func rsaEndorsementKey(subjectPublicKeyInfo der: Data) throws -> TPMPublic {
        let modulus: Data
        do {
            let key = try _RSA.Encryption.PublicKey(derRepresentation: der)
            guard key.keySizeInBits == 2048 else {
                throw AttestationError.unsupported("EK SubjectPublicKeyInfo", "\(key.keySizeInBits)-bit RSA key")
            }
            modulus = try key.getKeyPrimitives().modulus
        } catch let error as AttestationError {
            throw error
        } catch {
            throw AttestationError.malformed("EK SubjectPublicKeyInfo", "not an RSA key: \(error)")
        }
        let attributes: TPMObjectAttributes = [
            .fixedTPM, .fixedParent, .sensitiveDataOrigin, .adminWithPolicy, .restricted, .decrypt,
        ]
        var writer = TPMWriter()
        writer.uint16(TPMAlgorithm.rsa.rawValue)
        writer.uint16(TPMAlgorithm.sha256.rawValue)
        writer.uint32(attributes.rawValue)
        writer.sized(endorsementPolicySHA256)
        writer.uint16(TPMAlgorithm.aes.rawValue)
        writer.uint16(128)
        writer.uint16(TPMAlgorithm.cfb.rawValue)
        writer.uint16(TPMAlgorithm.null.rawValue)  // scheme
        writer.uint16(2048)
        writer.uint32(0)  // the template's exponent: 0 stands for 65537
        writer.sized(Data(repeating: 0, count: max(0, 256 - modulus.count)) + modulus.suffix(256))
        return try TPMPublic(tpmtPublic: writer.bytes)
    }
}
