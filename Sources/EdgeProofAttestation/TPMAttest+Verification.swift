import Foundation

extension TPMAttest {
    /// Parses and checks a TPM2_Certify: `signature` is the AK's over `attest`, it is a certify, its qualifying
    /// data is `qualifyingData`, and the certified Name is `key`'s. Throws the first failure: `malformed`,
    /// `invalidSignature`, or `refused("certify_type" | "qualifying_data" | "certify_name", …)`.
    public static func verifiedCertify(
        _ attest: Data, signature: Data, attestationKey: TPMPublic, certifiedKey: TPMPublic, qualifyingData: Data
    ) throws -> TPMAttest {
        let parsed = try verified(attest, signature: signature, attestationKey: attestationKey, kind: .certify,
            qualifyingData: qualifyingData)
        guard parsed.certify?.name == certifiedKey.name else {
            throw AttestationError.refused("certify_name", "the certified Name is not the signing key's")
        }
        return parsed
    }

    /// Parses and checks a TPM2_Quote: signed by the AK, a quote, with `qualifyingData`, and its PCR digest is
    /// that of `pcrValues` (in selection order). Throws as `verifiedCertify` does, with `refused("pcr_digest", …)`
    /// for values that do not match.
    public static func verifiedQuote(
        _ attest: Data, signature: Data, attestationKey: TPMPublic, qualifyingData: Data, pcrValues: [Data]
    ) throws -> TPMAttest {
        let parsed = try verified(attest, signature: signature, attestationKey: attestationKey, kind: .quote,
            qualifyingData: qualifyingData)
        let count = parsed.quote?.selections.reduce(0) { $0 + $1.pcrs.count } ?? 0
        guard let quote = parsed.quote, count == pcrValues.count, quote.digestMatches(pcrValues: pcrValues) else {
            throw AttestationError.refused(
                "pcr_digest", "\(pcrValues.count) PCR values do not hash to the quoted digest of \(count) PCRs")
        }
        return parsed
    }

    /// The signature first: nothing in unsigned bytes is worth reporting.
    private static func verified(
        _ attest: Data, signature: Data, attestationKey: TPMPublic, kind: Kind, qualifyingData: Data
    ) throws -> TPMAttest {
        try attestationKey.verify(try TPMSignature(signature), over: attest)
        let parsed = try TPMAttest(attest)
        guard parsed.kind == kind else {
            throw AttestationError.refused("\(kind)_type", "a \(parsed.kind) attestation where a \(kind) belongs")
        }
        guard parsed.extraData == qualifyingData else {
            throw AttestationError.refused("qualifying_data", "extraData is not the expected qualifying data")
        }
        return parsed
    }
}
