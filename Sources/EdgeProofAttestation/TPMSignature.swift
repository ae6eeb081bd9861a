import Foundation

/// A TPMT_SIGNATURE (TPM 2.0 Part 2, 11.3.4): ECDSA (r, s) or RSASSA-PKCS1-v1_5, with the hash signed.
public struct TPMSignature: Sendable, Equatable {
    public let algorithm: TPMAlgorithm
    public let hash: TPMAlgorithm
    /// ECDSA's r and s as the TPM returns them (big-endian, possibly shorter than the curve's size); empty for RSA.
    public let r: Data
    public let s: Data
    /// The RSASSA signature; empty for ECDSA.
    public let rsaSignature: Data
    /// The TPMT_SIGNATURE bytes as parsed.
    public let encoded: Data

    /// Parses a TPMT_SIGNATURE (tpm2-tools' `-s sig` file in its default "tss" format).
    public init(_ bytes: some Collection<UInt8>) throws {
        var reader = TPMReader(bytes, structure: "TPMT_SIGNATURE")
        algorithm = TPMAlgorithm(rawValue: try reader.uint16("sigAlg"))
        switch algorithm {
        case .ecdsa:
            hash = TPMAlgorithm(rawValue: try reader.uint16("signature.ecdsa.hash"))
            r = Data(try reader.sized("signature.ecdsa.signatureR", maximum: 66))
            s = Data(try reader.sized("signature.ecdsa.signatureS", maximum: 66))
            rsaSignature = Data()
        case .rsassa:
            hash = TPMAlgorithm(rawValue: try reader.uint16("signature.rsassa.hash"))
            rsaSignature = Data(try reader.sized("signature.rsassa.sig", maximum: 512))
            r = Data()
            s = Data()
        default:
            throw AttestationError.unsupported("TPMT_SIGNATURE.sigAlg", "\(algorithm) (only ecdsa and rsassa)")
        }
        try reader.finish()
        encoded = Data(bytes)
    }
}
