import Crypto
import EdgeProofAttestation
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofTPM
import Foundation
import Testing

/// The agent's side (EdgeProofTPM through ESAPI) against the registrar's (EdgeProofAttestation): what the
/// device produces, the verifier accepts, and only for the right name, nonce and key.
@Suite("Enrollment evidence from the agent's TPM, checked by the verifier's code")
struct DeviceAndVerifierTests {
    @Test(
        "a credential made from the EK certificate for the AK's name opens only on its TPM; certify and quote pass the verifier's checks and fail with another nonce or key"
    )
    func deviceEvidencePassesTheVerifierAndOnlyForItsOwnInputs() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        let device = try TPMDevice(tcti: tpm.tcti)
        let signingHandle = PersistentHandle.defaultSigningKey
        _ = try await device.provisionSigningKey(.eccP256, at: signingHandle)
        let attestationHandle = try PersistentHandle(0x8100_0011)
        let attestationKey = try await device.provisionAttestationKey(at: attestationHandle)

        // The verifier's view: the AK and the signing key as the agent reports them, checked.
        let akPublic = try TPMPublic(tpm2bPublic: attestationKey.object.publicArea)
        try akPublic.requireAttestationKey()
        #expect(akPublic.name == Data(attestationKey.object.name), "the verifier computes the TPM's own Name")
        let signingPublic = try TPMPublic(tpm2bPublic: try await device.objectPublic(at: signingHandle).publicArea)
        try signingPublic.requireSigningKey()
        #expect(throws: AttestationError.self) { try signingPublic.requireAttestationKey() }

        // Credential activation: the EK key taken from the certificate, never from the agent's word.
        let stored = try await device.endorsementCertificates()
        let rsa = try #require(stored.first { $0.index == TPMEndorsementCertificate.rsa2048Index })
        let certificate = try EKCertificate(nvContents: rsa.der)
        // libtpms reports "IBM" (TPM_PT_MANUFACTURER 0x49424D00). swtpm_setup's certificates name IBM by its
        // PCI vendor id instead (id:00001014); on hardware the two agree, so a registrar can compare them
        // only for manufacturers it knows to be consistent.
        // The EK public hash the operator pins is one value on both sides.
        #expect(try certificate.publicKeyHash == (try await device.endorsementKey()).publicKey.hash)
        let vendor = try await device.vendorInfo()
        #expect(vendor.manufacturer == "IBM")
        #expect(vendor.manufacturerID == "id:49424D00")
        #expect(vendor.specificationRevision >= 116, "\(vendor)")
        #expect(certificate.manufacturer == "id:00001014")
        let maker = CredentialMaker(endorsementKey: try .init(subjectPublicKeyInfo: certificate.subjectPublicKeyInfo))
        let secret = Data(SHA256.hash(data: Data("challenge for agent-001".utf8)))
        let credential = try maker.makeCredential(objectName: akPublic.name, secret: secret)
        let opened = try await device.activateCredential(
            Array(credential.credentialBlob.dropFirst(2)), encryptedSecret: Array(credential.encryptedSecret.dropFirst(2)),
            attestationKey: attestationHandle)
        #expect(Data(opened) == secret)
        let forOtherName = try maker.makeCredential(objectName: signingPublic.name, secret: secret)
        await #expect(throws: TPMError.self) {
            _ = try await device.activateCredential(
                Array(forOtherName.credentialBlob.dropFirst(2)),
                encryptedSecret: Array(forOtherName.encryptedSecret.dropFirst(2)), attestationKey: attestationHandle)
        }

        // Certify of the signing key and a quote, bound to the registrar's nonce.
        let nonce = Data(SHA256.hash(data: secret + Data("certify".utf8)))
        let certify = try await device.certify(signingHandle, by: attestationHandle, qualifyingData: Array(nonce))
        let certified = try TPMAttest.verifiedCertify(
            Data(certify.attest), signature: Data(certify.signature), attestationKey: akPublic,
            certifiedKey: signingPublic, qualifyingData: nonce)
        #expect(certified.kind == .certify)
        #expect(throws: AttestationError.self) {
            try TPMAttest.verifiedCertify(
                Data(certify.attest), signature: Data(certify.signature), attestationKey: akPublic,
                certifiedKey: signingPublic, qualifyingData: Data(nonce.reversed()))
        }
        #expect(throws: AttestationError.self) {
            try TPMAttest.verifiedCertify(
                Data(certify.attest), signature: Data(certify.signature), attestationKey: akPublic,
                certifiedKey: akPublic, qualifyingData: nonce)
        }
        let quote = try await device.quote(by: attestationHandle, qualifyingData: Array(nonce))
        let values = quote.pcrValues.map { Data($0.digest) }
        _ = try TPMAttest.verifiedQuote(
            Data(quote.evidence.attest), signature: Data(quote.evidence.signature), attestationKey: akPublic,
            qualifyingData: nonce, pcrValues: values)
        #expect(throws: AttestationError.self) {
            try TPMAttest.verifiedQuote(
                Data(quote.evidence.attest), signature: Data(quote.evidence.signature), attestationKey: akPublic,
                qualifyingData: nonce, pcrValues: [Data(repeating: 0xAA, count: 32)] + values.dropFirst())
        }
    }
}
