import Crypto
import Foundation
import SwiftASN1
import X509

/// Issues client certificates under a broker directory's development CA (`ca.crt`/`ca.key` from
/// broker/gen-certs.sh) in this process: about a millisecond a certificate where gen-certs.sh's openssl
/// processes take some 80, so that benches can give thousands of simulated agents a certificate each.
/// The certificates are what gen-certs.sh makes: EC P-256, CN = the name, client authentication only.
public struct ClientCertificateIssuer {
    private let caCertificate: Certificate
    private let caKey: P256.Signing.PrivateKey
    private let directory: URL

    /// Reads the CA of `directory` (run gen-certs.sh on it first).
    public init(directory: URL) throws {
        self.directory = directory
        do {
            caCertificate = try Certificate(
                pemEncoded: try String(contentsOf: directory.appendingPathComponent("ca.crt"), encoding: .utf8))
            caKey = try P256.Signing.PrivateKey(
                pemRepresentation: try String(contentsOf: directory.appendingPathComponent("ca.key"), encoding: .utf8))
        } catch {
            throw LocalStackError("cannot read the CA in \(directory.path) (broker/gen-certs.sh makes it): \(error)")
        }
    }

    /// Writes `NAME.crt` and `NAME.key` (mode 600) for every name that has no certificate yet.
    public func issue(_ names: [String]) throws {
        let now = Date()
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
        }
        for name in names where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(name).crt").path) {
            guard !name.isEmpty, name.utf8.count <= 64, name != "ca", name != "server",
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }),
                name.first.map({ $0 != "." && $0 != "-" }) == true
            else {
                throw LocalStackError("invalid client name '\(name)' (1-64 of [A-Za-z0-9._-], not starting with '.' or '-')")
            }
            let key = P256.Signing.PrivateKey()
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + 825 * 86_400,
                issuer: caCertificate.subject,
                subject: try DistinguishedName { CommonName(name) },
                signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(caKey))
            try write(Data(key.pemRepresentation.utf8), to: "\(name).key")
            try write(Data(try certificate.serializeAsPEM().pemString.utf8), to: "\(name).crt")
        }
    }

    private func write(_ data: Data, to file: String) throws {
        let url = directory.appendingPathComponent(file)
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw LocalStackError("cannot write \(url.path)")
        }
    }
}
