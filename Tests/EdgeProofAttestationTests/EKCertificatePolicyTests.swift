import Crypto
import EdgeProofAttestation
import Foundation
import SwiftASN1
import Testing
import X509
import _CryptoExtras

/// The EK policy on certificates made here, one deviation from the EK profile each.
@Suite struct EKCertificatePolicyTests {
    private struct Authority {
        let key = P256.Signing.PrivateKey()
        let name: DistinguishedName
        let certificate: Certificate

        init(criticalSubjectAltName: Bool = false) throws {
            let name = try DistinguishedName { CommonName("EdgeProof Test TPM Root") }
            self.name = name
            let now = Date()
            certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + 3600, issuer: name, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(KeyUsage(keyCertSign: true))
                    if criticalSubjectAltName { Critical(SubjectAlternativeNames([.dnsName("ca.example")])) }
                }, issuerPrivateKey: .init(key))
        }

        func issueEK(
            names: [GeneralName] = [.directoryName(EKCertificatePolicyTests.tpmName)], validFor: TimeInterval = 3600,
            signer: P256.Signing.PrivateKey? = nil
        ) throws -> EKCertificate {
            let now = Date()
            let ek = try _RSA.Signing.PrivateKey(keySize: .bits2048).publicKey
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(ek), notValidBefore: now - 7200,
                notValidAfter: now + validFor, issuer: name, subject: DistinguishedName(),
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(keyEncipherment: true))
                    Critical(SubjectAlternativeNames(names))
                }, issuerPrivateKey: .init(signer ?? key))
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return try EKCertificate(nvContents: serializer.serializedBytes)
        }
    }

    static let tpmName = DistinguishedName([
        RelativeDistinguishedName(.init(type: EKCertificate.tpmManufacturerOID, utf8String: "id:49465800")),
        RelativeDistinguishedName(.init(type: EKCertificate.tpmModelOID, utf8String: "SLB9670")),
        RelativeDistinguishedName(.init(type: EKCertificate.tpmVersionOID, utf8String: "id:00070055")),
    ])

    private static func isUntrusted(_ error: any Error) -> Bool {
        (error as? AttestationError)?.isUntrustedCertificate == true
    }

    @Test func acceptsTheProfilesCriticalDirectoryNameAndReadsTheTPMFields() async throws {
        let authority = try Authority()
        let ek = try authority.issueEK()
        #expect(ek.manufacturer == "id:49465800")
        #expect(ek.model == "SLB9670")
        #expect(ek.version == "id:00070055")
        let chain = try await EKCertificateVerifier(roots: [authority.certificate]).verify(ek)
        #expect(chain.count == 2)
    }

    @Test func refusesASubjectAltNameNamingMoreThanTheTPM() async throws {
        let authority = try Authority()
        let ek = try authority.issueEK(names: [.directoryName(Self.tpmName), .dnsName("host.example")])
        await #expect(performing: { try await EKCertificateVerifier(roots: [authority.certificate]).verify(ek) },
            throws: Self.isUntrusted)
    }

    @Test func refusesACertificateWithoutTheTPMFields() throws {
        let authority = try Authority()
        #expect(throws: AttestationError.self) { try authority.issueEK(names: [.dnsName("host.example")]) }
    }

    @Test func refusesACAWithACriticalSubjectAltName() async throws {
        let authority = try Authority(criticalSubjectAltName: true)
        let ek = try authority.issueEK()
        await #expect(performing: { try await EKCertificateVerifier(roots: [authority.certificate]).verify(ek) },
            throws: Self.isUntrusted)
    }

    @Test func stillRefusesWhatRFC5280Refuses() async throws {
        let authority = try Authority()
        let verifier = EKCertificateVerifier(roots: [authority.certificate])
        let expired = try authority.issueEK(validFor: -60)
        await #expect(performing: { try await verifier.verify(expired) }, throws: Self.isUntrusted)
        let forged = try authority.issueEK(signer: P256.Signing.PrivateKey())
        await #expect(performing: { try await verifier.verify(forged) }, throws: Self.isUntrusted)
    }
}
