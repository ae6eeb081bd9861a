import EdgeProofCore
import Foundation
import X509

/// Re-checks an allowlist entry's trust block offline, as `edgeproof allowlist verify-evidence` does: the AK is
/// an attestation key, the signing key a TPM signing key and the entry's own key, the certify and the quote are
/// the AK's over that key and those PCR values with the stored qualifying data, and, where the EK certificate
/// is at hand (`<ek_public_hash>.der`), that it chains to the trust store, holds the EK and is the one named.
public struct TrustEvidenceAuditor: Sendable {
    /// What the audit of one entry found.
    public enum Finding: Sendable, Equatable {
        /// No trust block: a `configured` key, nothing to re-check.
        case configured
        /// Every check passed; `certificateChecked` when the EK certificate was there to re-check too.
        case verified(TrustLevel, certificateChecked: Bool)
        /// The first check that failed.
        case failed(String)
    }

    private let trustStore: EKCertificateVerifier
    private let ekCertificates: URL?

    /// `ekCertificates`: a directory of EK certificates named `<ek_public_hash>.der` (the registrar's store).
    /// When it is given, a `tpm-ek-cert` entry without its certificate there fails.
    public init(trustStore: EKCertificateVerifier, ekCertificates: URL?) {
        self.trustStore = trustStore
        self.ekCertificates = ekCertificates
    }

    public func audit(_ entry: AllowlistEntry) async -> Finding {
        guard let trust = entry.trust else { return .configured }
        do {
            let certificateChecked = try await check(trust, of: entry)
            return .verified(trust.level, certificateChecked: certificateChecked)
        } catch let error as AuditFailure {
            return .failed(error.description)
        } catch {
            return .failed("\(error)")
        }
    }

    private func check(_ trust: TrustBlock, of entry: AllowlistEntry) async throws -> Bool {
        let attestationKey = try AuditFailure.step("ak_public") {
            let key = try TPMPublic(tpm2bPublic: try Self.base64(trust.akPublic, "ak_public"))
            try key.requireAttestationKey()
            return key
        }
        let signingKey = try AuditFailure.step("signing_key_public") {
            let key = try TPMPublic(tpm2bPublic: try Self.base64(trust.signingKeyPublic, "signing_key_public"))
            try key.requireSigningKey()
            return key
        }
        let keyHash = PublicKeyHash(subjectPublicKeyInfo: try signingKey.subjectPublicKeyInfo())
        guard keyHash == entry.publicKeyHash else {
            throw AuditFailure(
                "signing_key_public", "holds key \(keyHash), not the entry's public_key \(entry.publicKeyHash)")
        }
        try AuditFailure.step("certify") {
            _ = try TPMAttest.verifiedCertify(
                try Self.base64(trust.certify.attest, "attest"), signature: try Self.base64(trust.certify.signature, "signature"),
                attestationKey: attestationKey, certifiedKey: signingKey,
                qualifyingData: try Self.hex(trust.certify.qualifyingData))
        }
        try AuditFailure.step("quote") {
            let attest = try Self.base64(trust.quote.attest, "attest")
            _ = try TPMAttest.verifiedQuote(
                attest, signature: try Self.base64(trust.quote.signature, "signature"), attestationKey: attestationKey,
                qualifyingData: try Self.hex(trust.quote.qualifyingData), pcrValues: try Self.pcrValues(trust.quote, attest))
        }
        return try await checkCertificate(trust)
    }

    /// The stored PCR values in the quote's selection order; every selected PCR must have one, and no other.
    private static func pcrValues(_ quote: QuoteEvidence, _ attest: Data) throws -> [Data] {
        guard quote.pcrBank == "sha256" else {
            throw AttestationError.refused("pcr_bank", "\(quote.pcrBank), not sha256")
        }
        let selections = try TPMAttest(attest).quote?.selections ?? []
        guard selections.allSatisfy({ $0.hash == .sha256 }) else {
            throw AttestationError.refused("pcr_bank", "the quote selects a bank other than sha256")
        }
        let indices = selections.flatMap(\.pcrs)
        guard Set(indices.map(String.init)) == Set(quote.pcrValues.keys), indices.count == quote.pcrValues.count else {
            throw AttestationError.refused(
                "pcr_values", "stored for PCRs \(quote.pcrValues.keys.sorted()), quoted \(indices)")
        }
        return try indices.map { index in try hex(quote.pcrValues[String(index)] ?? "") }
    }

    /// Re-checks the EK certificate when there is one to check; returns whether there was.
    private func checkCertificate(_ trust: TrustBlock) async throws -> Bool {
        guard let ekCertificates else { return false }
        let file = ekCertificates.appendingPathComponent("\(trust.ekPublicHash.hex).der")
        guard let der = try? Data(contentsOf: file) else {
            if trust.level == .tpmEKCert {
                throw AuditFailure("ek_certificate", "level tpm-ek-cert, but no \(file.lastPathComponent) to re-check")
            }
            return false
        }
        let certificate = try AuditFailure.step("ek_certificate") { try EKCertificate(nvContents: der) }
        let hash = try certificate.publicKeyHash
        guard hash == trust.ekPublicHash else {
            throw AuditFailure("ek_certificate", "holds EK \(hash), not ek_public_hash \(trust.ekPublicHash)")
        }
        if let issuer = trust.ekIssuer, issuer != certificate.issuerName {
            throw AuditFailure("ek_issuer", "stored \(issuer), the certificate's is \(certificate.issuerName)")
        }
        if let serial = trust.ekSerial, !certificate.hasSerial(serial) {
            throw AuditFailure("ek_serial", "stored \(serial), the certificate's is \(certificate.serialHex)")
        }
        do {
            try await trustStore.verify(certificate)
        } catch {
            // A certificate that does not chain leaves the EK pinned at best: tpm-ek-cert is not justified.
            if trust.level == .tpmEKCert { throw AuditFailure("ek_certificate_chain", "\(error)") }
        }
        return true
    }

    private static func base64(_ text: String, _ field: String) throws -> Data {
        guard let data = Data(base64Encoded: text) else { throw AttestationError.malformed(field, "not base64") }
        return data
    }

    private static func hex(_ text: String) throws -> Data {
        guard let bytes = Hex.decode(text) else { throw AttestationError.malformed("hex", "not lowercase hex") }
        return Data(bytes)
    }
}

extension EKCertificate {
    /// The issuer as a trust block's `ek_issuer` holds it (RFC 4514 string of swift-certificates).
    public var issuerName: String { certificate.issuer.description }

    /// The serial number as a trust block's `ek_serial` holds it: lowercase hex, two digits a byte.
    public var serialHex: String { Hex.encode(certificate.serialNumber.bytes) }

    /// Whether `serial` names this certificate's serial number, in `serialHex` form or with colons between
    /// bytes, any case.
    func hasSerial(_ serial: String) -> Bool {
        let stored = serial.lowercased().replacingOccurrences(of: ":", with: "")
        return stored == serialHex || serial.lowercased() == certificate.serialNumber.description
    }
}

/// A failed audit step: the trust block's field and what is wrong with it.
struct AuditFailure: Error, CustomStringConvertible {
    let field: String
    let detail: String

    init(_ field: String, _ detail: String) {
        self.field = field
        self.detail = detail
    }

    var description: String { "\(field): \(detail)" }

    static func step<Value>(_ field: String, _ body: () throws -> Value) throws -> Value {
        do {
            return try body()
        } catch let error as AuditFailure {
            throw error
        } catch {
            throw AuditFailure(field, "\(error)")
        }
    }
}
