import Crypto
import EdgeProofAttestation
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofTPM
import Foundation
import Testing

/// A trust block made from a real swtpm's evidence (EK certificate from swtpm_setup's local CA, AK, certify and
/// quote through ESAPI), the allowlist entry it belongs to, and the auditor's inputs on disk.
private struct DeviceEvidence {
    let entry: AllowlistEntry
    let ekCertificate: EKCertificate
    let trustStore: TemporaryDirectory
    let ekCertificates: TemporaryDirectory

    static func make(_ tpm: SoftwareTPM) async throws -> DeviceEvidence {
        let device = try TPMDevice(tcti: tpm.tcti)
        let signingHandle = try PersistentHandle(0x8100_0010)
        _ = try await device.provisionSigningKey(.eccP256, at: signingHandle)
        let attestationHandle = try PersistentHandle(0x8100_0011)
        let attestationKey = try await device.provisionAttestationKey(at: attestationHandle)
        let signingPublic = try await device.objectPublic(at: signingHandle).publicArea
        let key = try AgentPublicKey(derRepresentation: try TPMPublic(tpm2bPublic: signingPublic).subjectPublicKeyInfo())

        let nonce = Array(SHA256.hash(data: Data("registrar challenge".utf8)))
        let certify = try await device.certify(signingHandle, by: attestationHandle, qualifyingData: nonce)
        let quote = try await device.quote(by: attestationHandle, qualifyingData: nonce)
        let stored = try await device.endorsementCertificates()
        let rsa = try #require(stored.first { $0.index == TPMEndorsementCertificate.rsa2048Index })
        let certificate = try EKCertificate(nvContents: rsa.der)

        let manufacturer = try #require(tpm.manufacturer)
        let trustStore = try TemporaryDirectory(prefix: "edgeproof-truststore")
        for file in [manufacturer.rootCertificate, manufacturer.issuerCertificate] {
            try FileManager.default.copyItem(at: file, to: trustStore.appending(file.lastPathComponent))
        }
        let ekCertificates = try TemporaryDirectory(prefix: "edgeproof-ekcerts")
        try certificate.der.write(to: ekCertificates.appending("\(try certificate.publicKeyHash.hex).der"))

        let nonceHex = nonce.map { String(format: "%02x", $0) }.joined()
        let trust = TrustBlock(
            level: .tpmEKCert, ekPublicHash: try certificate.publicKeyHash, ekIssuer: certificate.issuerName,
            ekSerial: certificate.serialHex, akPublic: Data(attestationKey.object.publicArea).base64EncodedString(),
            signingKeyPublic: Data(signingPublic).base64EncodedString(),
            certify: SignedAttestation(
                attest: Data(certify.attest).base64EncodedString(),
                signature: Data(certify.signature).base64EncodedString(), qualifyingData: nonceHex),
            quote: QuoteEvidence(
                attest: Data(quote.evidence.attest).base64EncodedString(),
                signature: Data(quote.evidence.signature).base64EncodedString(), qualifyingData: nonceHex,
                pcrValues: Dictionary(
                    uniqueKeysWithValues: quote.pcrValues.map {
                        (String($0.index), $0.digest.map { String(format: "%02x", $0) }.joined())
                    })),
            enrolledAt: "2026-12-01T10:00:00.000Z", attestedAt: "2026-12-01T10:00:00.000Z", approvedBy: "expected")
        let entry = AllowlistEntry(
            name: "agent-001", key: key, createdAt: "2026-12-01T10:00:00.000Z",
            allowedPlaces: [AllowedPlace(region: "US")], trust: trust)
        return DeviceEvidence(
            entry: entry, ekCertificate: certificate, trustStore: trustStore, ekCertificates: ekCertificates)
    }

    func auditor() throws -> TrustEvidenceAuditor {
        TrustEvidenceAuditor(
            trustStore: try EKCertificateVerifier(trustStoreDirectory: trustStore.url), ekCertificates: ekCertificates.url)
    }

    func remove() {
        trustStore.remove()
        ekCertificates.remove()
    }
}

extension TrustEvidenceAuditor.Finding {
    var failure: String? {
        if case .failed(let reason) = self { reason } else { nil }
    }
}

@Suite("verify-evidence: trust blocks from a real swtpm re-checked offline")
struct TrustEvidenceAuditorTests {
    @Test(
        "real evidence passes; a tampered certify, a swapped public_key, a changed PCR value, another TPM's or an untrusted EK certificate fail"
    )
    func realEvidencePassesAndEachForgeryFails() async throws {
        let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { tpm.stop() }
        let evidence = try await DeviceEvidence.make(tpm)
        defer { evidence.remove() }
        let auditor = try evidence.auditor()
        let entry = evidence.entry
        let trust = try #require(entry.trust)

        #expect(await auditor.audit(entry) == .verified(.tpmEKCert, certificateChecked: true))
        let withoutCertificates = TrustEvidenceAuditor(
            trustStore: try EKCertificateVerifier(trustStoreDirectory: evidence.trustStore.url), ekCertificates: nil)
        #expect(await withoutCertificates.audit(entry) == .verified(.tpmEKCert, certificateChecked: false))

        var tampered = entry
        var attest = try #require(Data(base64Encoded: trust.certify.attest))
        attest[attest.count - 1] ^= 0x01
        tampered.trust?.certify.attest = attest.base64EncodedString()
        #expect(await auditor.audit(tampered).failure?.hasPrefix("certify:") == true)

        let otherKey = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
        let swapped = AllowlistEntry(
            name: entry.name, key: otherKey, createdAt: entry.createdAt, allowedPlaces: entry.allowedPlaces,
            trust: trust)
        #expect(await auditor.audit(swapped).failure?.hasPrefix("signing_key_public:") == true)

        var changedPCR = entry
        changedPCR.trust?.quote.pcrValues["0"] = String(repeating: "aa", count: 32)
        #expect(await auditor.audit(changedPCR).failure?.hasPrefix("quote:") == true)

        var changedQualifyingData = entry
        changedQualifyingData.trust?.certify.qualifyingData = String(repeating: "00", count: 32)
        #expect(await auditor.audit(changedQualifyingData).failure?.hasPrefix("certify:") == true)

        var wrongSerial = entry
        wrongSerial.trust?.ekSerial = "01"
        #expect(await auditor.audit(wrongSerial).failure?.hasPrefix("ek_serial:") == true)

        // Another TPM, manufactured by another CA: its EK certificate filed under this TPM's EK hash holds
        // another key; and a trust block naming that other EK does not chain to this trust store.
        let foreignTPM = try await SoftwareTPM.start(endorsementCertificates: true)
        defer { foreignTPM.stop() }
        let foreign = try await DeviceEvidence.make(foreignTPM)
        defer { foreign.remove() }
        try foreign.ekCertificate.der.write(
            to: evidence.ekCertificates.appending("\(trust.ekPublicHash.hex).der"))
        #expect(await auditor.audit(entry).failure?.hasPrefix("ek_certificate:") == true)
        let untrusted = await auditor.audit(foreign.entry)
        #expect(untrusted.failure?.hasPrefix("ek_certificate:") == true, "tpm-ek-cert with no certificate to re-check")
        try foreign.ekCertificate.der.write(
            to: evidence.ekCertificates.appending("\(try foreign.ekCertificate.publicKeyHash.hex).der"))
        #expect(await auditor.audit(foreign.entry).failure?.hasPrefix("ek_certificate_chain:") == true)
    }
}
