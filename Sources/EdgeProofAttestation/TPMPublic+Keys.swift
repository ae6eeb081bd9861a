import Crypto
import Foundation
import _CryptoExtras

extension TPMPublic {
    /// The key as a swift-crypto P-256 verification key; throws unless it is an ECC key on NIST P-256.
    public func p256PublicKey() throws -> P256.Signing.PublicKey {
        try P256.Signing.PublicKey(x963Representation: try x963Point(expecting: .nistP256))
    }

    /// The key as a swift-crypto P-384 verification key (the curve of ECC EKs); throws unless ECC on NIST P-384.
    public func p384PublicKey() throws -> P384.Signing.PublicKey {
        try P384.Signing.PublicKey(x963Representation: try x963Point(expecting: .nistP384))
    }

    /// The key as an RSA verification key (swift-crypto refuses moduli below 2048 bits); throws unless RSA.
    public func rsaPublicKey() throws -> _RSA.Signing.PublicKey {
        guard let rsa else { throw AttestationError.unsupported("TPMT_PUBLIC.type", "\(type) key, not rsa") }
        let exponent = withUnsafeBytes(of: rsa.exponent.bigEndian) { Data($0) }
        do {
            return try _RSA.Signing.PublicKey(n: rsa.modulus, e: exponent)
        } catch {
            throw AttestationError.unsupported("TPMT_PUBLIC.unique.rsa", "\(rsa.keyBits)-bit key refused: \(error)")
        }
    }

    /// The DER SubjectPublicKeyInfo of the key, the form an X.509 certificate carries and EdgeProof hashes.
    public func subjectPublicKeyInfo() throws -> Data {
        switch type {
        case .rsa: return try rsaPublicKey().derRepresentation
        case .ecc where ecc?.curve == .nistP384: return try p384PublicKey().derRepresentation
        default: return try p256PublicKey().derRepresentation
        }
    }

    /// Checks that `signature` is this key's signature over `message` (TPMS_ATTEST bytes), under the hash the
    /// signature names, which must be the one of the key's fixed scheme when it has one. Accepts ECDSA-SHA256 on
    /// P-256, ECDSA-SHA384 on P-384 and RSASSA-SHA256; throws `invalidSignature` when it does not verify.
    public func verify(_ signature: TPMSignature, over message: some DataProtocol) throws {
        if scheme.algorithm != .null,
            scheme.algorithm != signature.algorithm || scheme.hash != signature.hash
        {
            throw AttestationError.invalidSignature(
                "\(signature.algorithm)-\(signature.hash) signature from a key fixed to "
                    + "\(scheme.algorithm)-\(scheme.hash)")
        }
        let valid: Bool
        switch (signature.algorithm, signature.hash, type, ecc?.curve) {
        case (.ecdsa, .sha256, .ecc, .nistP256?):
            let raw = try Self.fixedWidth(signature.r, 32) + Self.fixedWidth(signature.s, 32)
            let ecdsa = try P256.Signing.ECDSASignature(rawRepresentation: raw)
            valid = try p256PublicKey().isValidSignature(ecdsa, for: SHA256.hash(data: Data(message)))
        case (.ecdsa, .sha384, .ecc, .nistP384?):
            let raw = try Self.fixedWidth(signature.r, 48) + Self.fixedWidth(signature.s, 48)
            let ecdsa = try P384.Signing.ECDSASignature(rawRepresentation: raw)
            valid = try p384PublicKey().isValidSignature(ecdsa, for: SHA384.hash(data: Data(message)))
        case (.rsassa, .sha256, .rsa, _):
            let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: signature.rsaSignature)
            valid = try rsaPublicKey().isValidSignature(
                rsaSignature, for: SHA256.hash(data: Data(message)), padding: .insecurePKCS1v1_5)
        default:
            throw AttestationError.unsupported(
                "TPMT_SIGNATURE", "\(signature.algorithm)-\(signature.hash) with a \(type) key"
                    + (ecc.map { " on \($0.curve)" } ?? ""))
        }
        guard valid else {
            throw AttestationError.invalidSignature("\(signature.algorithm)-\(signature.hash) does not verify")
        }
    }

    /// 0x04 ‖ x ‖ y with each coordinate at the curve's width.
    private func x963Point(expecting curve: TPMECCCurve) throws -> Data {
        guard let ecc, ecc.curve == curve, let width = curve.coordinateSize else {
            let actual = ecc.map { "\($0.curve)" } ?? "\(type)"
            throw AttestationError.unsupported("TPMT_PUBLIC", "\(actual) key, not \(curve)")
        }
        return Data([0x04]) + (try Self.fixedWidth(ecc.x, width)) + (try Self.fixedWidth(ecc.y, width))
    }

    /// Left-pads a big-endian integer the TPM may have shortened (leading zero bytes dropped) to `width` bytes.
    private static func fixedWidth(_ value: Data, _ width: Int) throws -> Data {
        let trimmed = value.drop { $0 == 0 }
        guard trimmed.count <= width else {
            throw AttestationError.malformed("ECC value", "\(value.count) bytes for a \(width)-byte field")
        }
        return Data(repeating: 0, count: width - trimmed.count) + trimmed
    }
}
