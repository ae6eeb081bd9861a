import Foundation
public import X509
import SwiftASN1

/// Chains EK certificates to a store of TPM manufacturer CA certificates under RFC 5280 plus the EK profile's
/// critical subjectAltName, which swift-certificates' RFC 5280 policy alone refuses as an unhandled critical
/// extension.
public struct EKCertificateVerifier: Sendable {
    private let roots: CertificateStore
    private let intermediates: CertificateStore

    /// `roots` are trusted as they are; `intermediates` only help to build chains to them.
    public init(roots: [Certificate], intermediates: [Certificate] = []) {
        self.roots = CertificateStore(roots)
        self.intermediates = CertificateStore(intermediates)
    }

    /// Reads the PEM files (`*.pem`, `*.crt`) of `directory`, a manufacturer's root and intermediate CAs side by
    /// side as operators receive them: the self-issued certificates are the roots, the others only intermediates,
    /// so a chain always ends at a root the operator placed.
    public init(trustStoreDirectory directory: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { ["pem", "crt"].contains($0.pathExtension) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        var certificates = [Certificate]()
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            do {
                certificates += try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
            } catch {
                throw AttestationError.malformed("trust store \(file.lastPathComponent)", "\(error)")
            }
        }
        guard !certificates.isEmpty else {
            throw AttestationError.malformed("trust store \(directory.path)", "no certificates in *.pem or *.crt")
        }
        let roots = certificates.filter { $0.issuer == $0.subject }
        guard !roots.isEmpty else {
            throw AttestationError.malformed("trust store \(directory.path)", "no self-issued root certificate")
        }
        self.init(roots: roots, intermediates: certificates.filter { $0.issuer != $0.subject })
    }

    /// Returns the validated chain, leaf first, or throws with every candidate chain's failure.
    @discardableResult
    public func verify(_ ek: EKCertificate) async throws -> [Certificate] {
        var verifier = Verifier(rootCertificates: roots) {
            RFC5280Policy()
            EKCertificatePolicy()
        }
        switch await verifier.validate(leaf: ek.certificate, intermediates: intermediates) {
        case .validCertificate(let chain):
            return Array(chain)
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }
            throw AttestationError.untrustedCertificate(
                reasons.isEmpty ? "no chain to a trusted CA" : reasons.joined(separator: "; "))
        }
    }
}

/// The EK Credential Profile's part of a chain policy: the leaf's subjectAltName, critical because an EK
/// certificate's subject is empty, names the TPM (manufacturer, model, version) in a directoryName and nothing
/// else; no CA certificate may carry a critical subjectAltName (this policy would accept it unchecked).
struct EKCertificatePolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        let leaf = chain.leaf
        guard let names = try? leaf.extensions.subjectAlternativeNames,
            EKCertificate.tpmIdentity(names) != nil
        else {
            return .failsToMeetPolicy(reason: "EK certificate without a TPM directoryName subjectAltName")
        }
        for name in names {
            guard case .directoryName = name else {
                return .failsToMeetPolicy(reason: "EK certificate subjectAltName holds \(name), not only the TPM")
            }
        }
        for certificate in chain.dropFirst() {
            if let san = certificate.extensions[oid: .X509ExtensionID.subjectAlternativeName], san.critical {
                let subject = certificate.subject
                return .failsToMeetPolicy(reason: "CA certificate \(subject) with a critical subjectAltName")
            }
        }
        return .meetsPolicy
    }
}
