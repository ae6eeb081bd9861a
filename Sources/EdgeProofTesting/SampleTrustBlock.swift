import EdgeProofCore
import Foundation

extension TrustBlock {
    /// A trust block with the shape and sizes of real evidence but made-up bytes: for the checks that
    /// read only its level, EK hash and attestation time (gateway, collector), never for evidence checks.
    public static func sample(
        level: TrustLevel = .tpmEKCert, attestedAt: Date = Date(), ekSeed: Int = 0
    ) -> TrustBlock {
        let ekHash = PublicKeyHash(subjectPublicKeyInfo: Array("sample EK \(ekSeed)".utf8))
        func bytes(_ count: Int) -> String { Data(repeating: 0xA5, count: count).base64EncodedString() }
        let pcrs = Dictionary(uniqueKeysWithValues: (0..<8).map { (String($0), String(repeating: "00", count: 32)) })
        let time = Timestamp.string(from: attestedAt)
        return TrustBlock(
            level: level, ekPublicHash: ekHash, ekIssuer: "CN=sample manufacturer CA", ekSerial: "01",
            akPublic: bytes(90), signingKeyPublic: bytes(90),
            certify: SignedAttestation(attest: bytes(150), signature: bytes(72), qualifyingData: String(repeating: "ab", count: 32)),
            quote: QuoteEvidence(
                attest: bytes(145), signature: bytes(72), qualifyingData: String(repeating: "ab", count: 32),
                pcrValues: pcrs),
            executableDigest: String(repeating: "cd", count: 32), kernelRelease: "6.1.0-sample", enrolledAt: time,
            attestedAt: time, approvedBy: "operator:sample")
    }
}
