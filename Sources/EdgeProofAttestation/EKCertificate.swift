import EdgeProofCore
import Crypto
import Foundation
public import X509
public import SwiftASN1

/// An EK certificate as read from the TPM's NV index, with the TPM identity its subjectAltName states (TCG EK
/// Credential Profile, 3.2.9: a critical directoryName of TPM manufacturer, model and version).
public struct EKCertificate: Sendable {
    /// TCG attribute types of the directoryName (EK Credential Profile, 3.1.1).
    public static let tpmManufacturerOID: ASN1ObjectIdentifier = [2, 23, 133, 2, 1]
    public static let tpmModelOID: ASN1ObjectIdentifier = [2, 23, 133, 2, 2]
    public static let tpmVersionOID: ASN1ObjectIdentifier = [2, 23, 133, 2, 3]

    public let certificate: Certificate
    /// The certificate's DER, without whatever wrapped it in NV.
    public let der: Data
    /// The TPM fields of the subjectAltName, e.g. "id:00001014", "swtpm", "id:20191023".
    public let manufacturer: String
    public let model: String
    public let version: String

    /// Parses an NV index's contents: DER, possibly behind the 4-byte header some TPMs put first (0x10 0x01 and a
    /// UInt16 length) and possibly followed by padding of 0x00 or 0xFF up to the index's size. Anything else
    /// around the certificate is refused.
    public init(nvContents: some Collection<UInt8>) throws {
        let der = try Self.unwrap(Array(nvContents))
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw AttestationError.malformed("EK certificate", "not an X.509 certificate: \(error)")
        }
        guard let names = try? certificate.extensions.subjectAlternativeNames,
            let identity = Self.tpmIdentity(names)
        else {
            throw AttestationError.malformed(
                "EK certificate", "no subjectAltName directoryName with TPM manufacturer, model and version")
        }
        self.certificate = certificate
        self.der = Data(der)
        (manufacturer, model, version) = identity
    }

    /// The DER SubjectPublicKeyInfo of the EK, the key MakeCredential encrypts to.
    public var subjectPublicKeyInfo: Data {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(certificate.publicKey)
            return Data(serializer.serializedBytes)
        }
    }

    /// SHA-256 of ``subjectPublicKeyInfo``: the EK public hash an operator pins, the same value (and hex
    /// form) as `edgeproof tpm ek --format hash` prints on the device.
    public var publicKeyHash: PublicKeyHash {
        get throws { PublicKeyHash(subjectPublicKeyInfo: try subjectPublicKeyInfo) }
    }

    private static func unwrap(_ bytes: [UInt8]) throws -> [UInt8] {
        var body = bytes[...]
        if body.count > 4, body[body.startIndex] == 0x10, body[body.startIndex + 1] == 0x01 {
            let length = Int(body[body.startIndex + 2]) << 8 | Int(body[body.startIndex + 3])
            guard body.count >= 4 + length else {
                throw AttestationError.malformed("EK certificate", "header length \(length) beyond \(body.count) bytes")
            }
            body = body.dropFirst(4)
        }
        guard let length = derLength(body) else {
            throw AttestationError.malformed("EK certificate", "does not start with a DER SEQUENCE")
        }
        guard length <= body.count else {
            throw AttestationError.malformed("EK certificate", "DER of \(length) bytes in \(body.count)")
        }
        let padding = body.dropFirst(length)
        guard padding.allSatisfy({ $0 == 0 }) || padding.allSatisfy({ $0 == 0xff }) else {
            throw AttestationError.malformed("EK certificate", "\(padding.count) bytes after the DER are not padding")
        }
        return Array(body.prefix(length))
    }

    /// The total length (header included) of the DER SEQUENCE at the start, nil when there is none.
    private static func derLength(_ bytes: ArraySlice<UInt8>) -> Int? {
        let start = bytes.startIndex
        guard bytes.count >= 2, bytes[start] == 0x30 else { return nil }
        let first = Int(bytes[start + 1])
        if first < 0x80 { return 2 + first }
        let count = first & 0x7f
        guard (1...3).contains(count), bytes.count >= 2 + count else { return nil }
        let length = bytes[(start + 2)..<(start + 2 + count)].reduce(0) { $0 << 8 | Int($1) }
        return 2 + count + length
    }

    /// The manufacturer, model and version of the first directoryName that has all three.
    static func tpmIdentity(_ names: SubjectAlternativeNames?) -> (String, String, String)? {
        for case .directoryName(let directory) in names ?? SubjectAlternativeNames() {
            var fields = [ASN1ObjectIdentifier: String]()
            for attribute in directory.flatMap({ $0 }) {
                fields[attribute.type] = String(attribute.value) ?? attribute.value.description
            }
            if let manufacturer = fields[tpmManufacturerOID], let model = fields[tpmModelOID],
                let version = fields[tpmVersionOID]
            {
                return (manufacturer, model, version)
            }
        }
        return nil
    }
}
