import Crypto
import EdgeProofAttestation
import EdgeProofCore
import Foundation
import X509

/// The registrar's checks, one ``ValidationFailure`` (`trust_evidence`) per check that fails; no MQTT, no
/// files but what its configuration names. `begin` verifies the agent's TPM objects and answers a
/// challenge; `finish` verifies the answer and returns the ``VerifiedEnrollment`` for the enrollment book.
public struct EnrollmentVerifier: Sendable {
    /// Chains EK certificates; nil: no trust store, every EK can at best be pinned.
    let trustStore: EKCertificateVerifier?
    /// A certificate present but not chaining is refused unless this is set; then it counts as absent
    /// (`tpm-ek-pinned`: the book approves only an EK hash the operator typed or pre-registered).
    let allowPinningFallback: Bool
    let sealer: EnrollmentTokenSealer
    let tokenLifetime: TimeInterval
    let pcrs: [Int]
    let usedTokens = UsedTokenCache()

    public init(
        trustStore: EKCertificateVerifier?, allowPinningFallback: Bool, tokenKeys: NonceKeyring,
        tokenLifetime: TimeInterval = 120, pcrs: [Int] = Array(0...7)
    ) {
        self.trustStore = trustStore
        self.allowPinningFallback = allowPinningFallback
        self.sealer = EnrollmentTokenSealer(keyring: tokenKeys)
        self.tokenLifetime = tokenLifetime
        self.pcrs = Array(Set(pcrs)).sorted()
    }

    /// What begin established, beside the challenge: the EK certificate's DER (to store) and its hash.
    public struct Begun: Sendable {
        public let challenge: EnrollmentChallenge
        public let ekPublicHash: PublicKeyHash
        public let ekCertificateDER: Data?
        public let level: TrustLevel
    }

    // MARK: - begin

    public func begin(_ request: EnrollmentBegin, now: Date) async throws(ValidationFailure) -> Begun {
        let ekPublic = try publicArea(request.ekPublic, "ek_public")
        let akPublic = try publicArea(request.akPublic, "ak_public")
        let signingPublic = try publicArea(request.signingKeyPublic, "signing_key_public")

        // The EK: from the certificate when there is one (never from the agent's word), else the public area.
        var level = TrustLevel.tpmEKPinned
        var issuer: String?
        var serial: String?
        var certificateDER: Data?
        let endorsementKey: CredentialMaker.EndorsementKey
        let ekSPKI: Data
        if let encoded = request.ekCertificate {
            let certificate: EKCertificate
            do {
                certificate = try EKCertificate(nvContents: try base64(encoded, "ek_certificate"))
                ekSPKI = try certificate.subjectPublicKeyInfo
                endorsementKey = try CredentialMaker.EndorsementKey(subjectPublicKeyInfo: ekSPKI)
            } catch let failure as ValidationFailure {
                throw failure
            } catch {
                throw ValidationFailure(.ekCertificateMalformed, "\(error)")
            }
            do {
                guard let trustStore else { throw AttestationError.untrustedCertificate("no trust store configured") }
                try await trustStore.verify(certificate)
                level = .tpmEKCert
            } catch {
                guard allowPinningFallback else { throw ValidationFailure(.ekCertificateUntrusted, "\(error)") }
            }
            issuer = certificate.certificate.issuer.description
            serial = Hex.encode(certificate.certificate.serialNumber.bytes)
            certificateDER = certificate.der
        } else {
            do {
                ekSPKI = try ekPublic.subjectPublicKeyInfo()
                endorsementKey = try CredentialMaker.EndorsementKey(public: ekPublic)
            } catch {
                throw ValidationFailure(.ekPublicMismatch, "the EK public area is not an RSA-2048 EK: \(error)")
            }
        }
        // The EK public area must be the profile's template with that key: then the TPM that activates the
        // credential holds the certificate's key under the EK's policy and attributes.
        guard (try? TPMPublic.rsaEndorsementKey(subjectPublicKeyInfo: ekSPKI)) == ekPublic else {
            throw ValidationFailure(
                .ekPublicMismatch, "the EK public area is not the EK template with the certificate's key")
        }
        try check(.akAttributes) { try akPublic.requireAttestationKey() }
        try check(.signingKeyAttributes) { try signingPublic.requireSigningKey() }

        let ekHash = PublicKeyHash(subjectPublicKeyInfo: ekSPKI)
        let secret = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        let certifyNonce = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        let credential: CredentialMaker.Credential
        do {
            credential = try CredentialMaker(endorsementKey: endorsementKey)
                .makeCredential(objectName: akPublic.name, secret: secret)
        } catch {
            throw ValidationFailure(.ekPublicMismatch, "MakeCredential for this EK failed: \(error)")
        }
        let token = EnrollmentToken(
            agent: request.agentName, ekPublicHash: ekHash, level: level, ekIssuer: issuer, ekSerial: serial,
            tpmVendor: request.tpmVendor, akPublic: request.akPublic, signingKeyPublic: request.signingKeyPublic,
            secret: secret.base64EncodedString(), certifyNonce: certifyNonce.base64EncodedString(), pcrs: pcrs,
            requestedPlaces: request.requestedPlaces,
            expires: Int64(now.addingTimeInterval(tokenLifetime).timeIntervalSince1970.rounded(.up)))
        let sealed: String
        do {
            sealed = try sealer.seal(token)
        } catch {
            throw ValidationFailure(.enrollmentMalformed, "cannot seal the enrollment token: \(error)")
        }
        let challenge = EnrollmentChallenge(
            credentialBlob: credential.credentialBlob.dropFirst(2).base64EncodedString(),
            encryptedSecret: credential.encryptedSecret.dropFirst(2).base64EncodedString(),
            certifyNonce: certifyNonce.base64EncodedString(), token: sealed, pcrs: pcrs)
        return Begun(challenge: challenge, ekPublicHash: ekHash, ekCertificateDER: certificateDER, level: level)
    }

    // MARK: - finish

    public func finish(
        _ request: EnrollmentFinish, platform: PlatformPolicy?, now: Date
    ) throws(ValidationFailure) -> VerifiedEnrollment {
        guard let token = sealer.open(request.token) else {
            throw ValidationFailure(.enrollmentTokenInvalid, "the token does not open under any registrar key")
        }
        guard token.expiresAt > now else {
            throw ValidationFailure(
                .enrollmentTokenExpired, "the token expired at \(Timestamp.string(from: token.expiresAt))")
        }
        guard token.agent == request.agentName else {
            throw ValidationFailure(
                .enrollmentAgentMismatch, "the token was issued to \(token.agent), not \(request.agentName)")
        }
        let secret = try base64(token.secret, "token secret")
        guard EnrollmentBinding.isValidActivationProof(
            try base64(request.activationProof, "activation_proof"), secret: secret, token: request.token)
        else {
            throw ValidationFailure(
                .activationProofInvalid, "the activation proof is not keyed with the credential's secret")
        }
        let akPublic = try publicArea(token.akPublic, "ak_public")
        let signingPublic = try publicArea(token.signingKeyPublic, "signing_key_public")
        let qualifyingData = EnrollmentBinding.qualifyingData(
            certifyNonce: try base64(token.certifyNonce, "certify_nonce"), agent: token.agent,
            ekPublicHash: token.ekPublicHash)

        let certifyAttest = try base64(request.certify.attest, "certify.attest")
        let certifySignature = try base64(request.certify.signature, "certify.signature")
        try check(.certifyInvalid) {
            _ = try TPMAttest.verifiedCertify(
                certifyAttest, signature: certifySignature, attestationKey: akPublic, certifiedKey: signingPublic,
                qualifyingData: qualifyingData)
        }

        var values = [Data]()
        var pcrHex = [String: String]()
        guard Set(request.pcrValues.keys) == Set(token.pcrs.map(String.init)) else {
            throw ValidationFailure(
                .quoteInvalid, "PCR values for \(request.pcrValues.keys.sorted()), the challenge asked for \(token.pcrs)")
        }
        for index in token.pcrs {
            guard let text = request.pcrValues[String(index)], let value = Hex.decode(text), value.count == 32
            else { throw ValidationFailure(.enrollmentMalformed, "pcr_values.\(index) is not 64 hex digits") }
            values.append(Data(value))
            pcrHex[String(index)] = text
        }
        let quoteAttest = try base64(request.quote.attest, "quote.attest")
        let quoteSignature = try base64(request.quote.signature, "quote.signature")
        var quoted: TPMAttest?
        try check(.quoteInvalid) {
            quoted = try TPMAttest.verifiedQuote(
                quoteAttest, signature: quoteSignature, attestationKey: akPublic, qualifyingData: qualifyingData,
                pcrValues: values)
        }
        let quotedPCRs = quoted?.quote?.selections.filter { $0.hash == .sha256 }.flatMap(\.pcrs) ?? []
        guard quotedPCRs.sorted() == token.pcrs else {
            throw ValidationFailure(.quoteInvalid, "the quote covers PCRs \(quotedPCRs), not \(token.pcrs)")
        }
        let digest = request.executableDigest
        guard digest.count == 64, Hex.decode(digest) != nil else {
            throw ValidationFailure(.enrollmentMalformed, "executable_digest is not 64 hex digits")
        }
        try platform?.check(executableDigest: digest, kernelRelease: request.kernelRelease, pcrValues: pcrHex)

        let signingKey: AgentPublicKey
        do {
            signingKey = try AgentPublicKey(derRepresentation: signingPublic.subjectPublicKeyInfo())
        } catch {
            throw ValidationFailure(.signingKeyAttributes, "the signing key is not usable for envelopes: \(error)")
        }
        // Single use, claimed last: a finish that failed a check does not burn the token.
        guard usedTokens.claim(token.certifyNonce, expiresAt: token.expiresAt, now: now) else {
            throw ValidationFailure(.enrollmentTokenReplayed, "this enrollment token was already used")
        }
        let stamp = Timestamp.string(from: now)
        let qualifyingHex = Hex.encode(qualifyingData)
        let trust = TrustBlock(
            level: token.level, ekPublicHash: token.ekPublicHash, ekIssuer: token.ekIssuer, ekSerial: token.ekSerial,
            tpmVendor: token.tpmVendor, akPublic: token.akPublic, signingKeyPublic: token.signingKeyPublic,
            certify: SignedAttestation(
                attest: request.certify.attest, signature: request.certify.signature,
                qualifyingData: qualifyingHex),
            quote: QuoteEvidence(
                attest: request.quote.attest, signature: request.quote.signature,
                qualifyingData: qualifyingHex, pcrValues: pcrHex),
            executableDigest: digest, kernelRelease: request.kernelRelease, enrolledAt: stamp, attestedAt: stamp,
            approvedBy: "")
        let clock = quoted.map {
            TPMClockReading(
                clock: $0.clockInfo.clock, resetCount: $0.clockInfo.resetCount,
                restartCount: $0.clockInfo.restartCount, safe: $0.clockInfo.safe)
        }
        return VerifiedEnrollment(
            agent: token.agent, signingKey: signingKey, trust: trust, requestedPlaces: token.requestedPlaces,
            clock: clock)
    }

    // MARK: - Helpers

    /// Runs a verifier call and turns its error into `reason`; a bad AK signature has its own reason.
    private func check(_ reason: RejectionReason, _ body: () throws -> Void) throws(ValidationFailure) {
        do {
            try body()
        } catch let error as AttestationError where error.isInvalidSignature {
            throw ValidationFailure(.attestationSignatureInvalid, error.description)
        } catch let error as AttestationError where error.refusedCheck != nil {
            throw ValidationFailure(reason, error.description, details: ["check": .string(error.refusedCheck ?? "")])
        } catch {
            throw ValidationFailure(reason, "\(error)")
        }
    }

    private func base64(_ text: String, _ field: String) throws(ValidationFailure) -> Data {
        guard let data = Data(base64Encoded: text) else {
            throw ValidationFailure(.enrollmentMalformed, "\(field) is not base64")
        }
        return data
    }

    private func publicArea(_ text: String, _ field: String) throws(ValidationFailure) -> TPMPublic {
        let bytes = try base64(text, field)
        do {
            return try TPMPublic(tpm2bPublic: bytes)
        } catch {
            throw ValidationFailure(.enrollmentMalformed, "\(field): \(error)")
        }
    }
}
