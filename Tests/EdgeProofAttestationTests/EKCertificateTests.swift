import EdgeProofCore
import Crypto
import EdgeProofAttestation
import EdgeProofLocalStack
import Foundation
import SwiftASN1
import Testing
import X509

@Suite struct EKCertificateTests {
    /// Copies the CA's certificates into a directory of their own, as an operator's trust store.
    private static func trustStore(of ca: SwtpmLocalCA) throws -> TemporaryDirectory {
        let store = try TemporaryDirectory(prefix: "edgeproof-truststore")
        for file in ca.trustStoreFiles {
            try FileManager.default.copyItem(at: file, to: store.appending(file.lastPathComponent))
        }
        return store
    }

    @Test func chainsSwtpmEKCertificatesToTheLocalCAAndActivatesACredentialToTheCertifiedKey() async throws {
        let ca = try SwtpmLocalCA()
        defer { ca.remove() }
        let tools = try ca.manufactureTPM()
        defer { tools.stop() }
        let store = try Self.trustStore(of: ca)
        defer { store.remove() }
        let verifier = try EKCertificateVerifier(trustStoreDirectory: store.url)

        try tools.run("tpm2_nvread", "0x01c00002", "-o", "ek-rsa.der")
        let rsa = try EKCertificate(nvContents: try tools.read("ek-rsa.der"))
        #expect(rsa.manufacturer == "id:00001014")
        #expect(rsa.model == "swtpm")
        #expect(!rsa.version.isEmpty)
        let chain = try await verifier.verify(rsa)
        #expect(chain.count == 3)

        try tools.run("tpm2_nvread", "0x01c00016", "-o", "ek-ecc.der")
        let ecc = try EKCertificate(nvContents: try tools.read("ek-ecc.der"))
        try await verifier.verify(ecc)

        // The certificate's key is the EK the TCG template recreates; a credential made to it activates.
        try tools.run("tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub")
        try tools.run("tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", "ecc", "-g", "sha256", "-s", "ecdsa",
            "-u", "ak.pub", "-n", "ak.name")
        let ekArea = try TPMPublic(tpm2bPublic: try tools.read("ek.pub"))
        #expect(try rsa.subjectPublicKeyInfo == (try ekArea.subjectPublicKeyInfo()))
        #expect(try TPMPublic.rsaEndorsementKey(subjectPublicKeyInfo: rsa.subjectPublicKeyInfo) == ekArea)
        let akArea = try TPMPublic(tpm2bPublic: try tools.read("ak.pub"))
        #expect(throws: AttestationError.self) {
            try TPMPublic.rsaEndorsementKey(subjectPublicKeyInfo: akArea.subjectPublicKeyInfo())
        }
        #expect(try rsa.publicKeyHash == PublicKeyHash(subjectPublicKeyInfo: try ekArea.subjectPublicKeyInfo()))
        let maker = try CredentialMaker(endorsementKey: .init(subjectPublicKeyInfo: rsa.subjectPublicKeyInfo))
        let secret = Data("proof of residency".utf8)
        let akName = try TPMPublic(tpm2bPublic: try tools.read("ak.pub")).name
        try tools.write(try maker.makeCredential(objectName: akName, secret: secret).tpm2ToolsFileRepresentation,
            to: "cert.cred")
        let activation = try tools.activate("cert.cred")
        #expect(activation.status == 0, "\(activation.standardError)")
        #expect(try tools.read("activated.out") == secret)
    }

    @Test func refusesAnEKCertificateOfAnotherCA() async throws {
        let trusted = try SwtpmLocalCA()
        defer { trusted.remove() }
        let foreign = try SwtpmLocalCA()
        defer { foreign.remove() }
        // The trusted CA's files exist once it has issued a certificate.
        let trustedTPM = try trusted.manufactureTPM()
        trustedTPM.stop()
        let tools = try foreign.manufactureTPM()
        defer { tools.stop() }
        let store = try Self.trustStore(of: trusted)
        defer { store.remove() }

        try tools.run("tpm2_nvread", "0x01c00002", "-o", "ek.der")
        let certificate = try EKCertificate(nvContents: try tools.read("ek.der"))
        let verifier = try EKCertificateVerifier(trustStoreDirectory: store.url)
        await #expect {
            try await verifier.verify(certificate)
        } throws: { error in
            (error as? AttestationError)?.isUntrustedCertificate == true
        }

        // RFC 5280 alone refuses even the genuine chain: the EK profile's critical subjectAltName is unhandled.
        let foreignRoots = try foreign.trustStoreFiles.map {
            try Certificate(pemEncoded: String(contentsOf: $0, encoding: .utf8))
        }
        var plain = Verifier(rootCertificates: CertificateStore(foreignRoots)) { RFC5280Policy() }
        guard case .couldNotValidate = await plain.validate(leaf: certificate.certificate, intermediates: .init())
        else {
            Issue.record("RFC 5280 policy accepted an EK certificate with a critical subjectAltName")
            return
        }
        try await EKCertificateVerifier(roots: foreignRoots).verify(certificate)
    }

    @Test func unwrapsTheNVHeaderAndPaddingAndRefusesAnythingElse() async throws {
        let ca = try SwtpmLocalCA()
        defer { ca.remove() }
        let tools = try ca.manufactureTPM()
        defer { tools.stop() }
        try tools.run("tpm2_nvread", "0x01c00002", "-o", "ek.der")
        let der = try tools.read("ek.der")

        let padded = try EKCertificate(nvContents: der + Data(repeating: 0, count: 100))
        #expect(padded.der == der)
        #expect(try EKCertificate(nvContents: der + Data(repeating: 0xff, count: 7)).der == der)
        let header = Data([0x10, 0x01, UInt8(der.count >> 8), UInt8(der.count & 0xff)])
        #expect(try EKCertificate(nvContents: header + der).der == der)

        for forged in [der + Data([0, 0, 1]), der.dropLast(), Data([0x04]) + der, Data(der.dropFirst())] {
            #expect(throws: AttestationError.self) { try EKCertificate(nvContents: forged) }
        }
    }
}
