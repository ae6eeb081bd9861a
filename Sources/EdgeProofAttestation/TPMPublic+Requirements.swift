import Foundation

extension TPMPublic {
    /// Throws `refused("ak_attributes" | "ak_algorithm", …)` unless this is an attestation key as enrollment
    /// requires: a restricted signing key that never leaves this TPM and was generated in it (fixedTPM,
    /// fixedParent, sensitiveDataOrigin), cannot decrypt, has a SHA-256 Name, and signs with ECDSA-SHA256 on
    /// P-256 or RSASSA-SHA256 with RSA-2048.
    public func requireAttestationKey() throws {
        try require(
            [.restricted, .sign, .fixedTPM, .fixedParent, .sensitiveDataOrigin], absent: [.decrypt],
            check: "ak_attributes")
        try requireAlgorithm(check: "ak_algorithm", allowingNullScheme: false)
    }

    /// Throws `refused("signing_key_attributes" | "signing_key_algorithm", …)` unless this is an envelope signing
    /// key as enrollment requires: sign only (not restricted, no decrypt), fixedTPM, fixedParent,
    /// sensitiveDataOrigin, noDA (so a lockout cannot stop the agent), a SHA-256 Name, and P-256 for ES256 or
    /// RSA-2048 for RS256 (with that scheme fixed, or none).
    public func requireSigningKey() throws {
        try require(
            [.sign, .fixedTPM, .fixedParent, .sensitiveDataOrigin, .noDA], absent: [.restricted, .decrypt],
            check: "signing_key_attributes")
        try requireAlgorithm(check: "signing_key_algorithm", allowingNullScheme: true)
    }

    private func require(
        _ present: TPMObjectAttributes, absent: TPMObjectAttributes, check: String
    ) throws {
        let missing = present.subtracting(objectAttributes)
        let forbidden = absent.intersection(objectAttributes)
        guard missing.isEmpty, forbidden.isEmpty else {
            var problems = [String]()
            if !missing.isEmpty { problems.append("lacks \(missing)") }
            if !forbidden.isEmpty { problems.append("has \(forbidden)") }
            throw AttestationError.refused(check, "\(objectAttributes) " + problems.joined(separator: ", "))
        }
    }

    private func requireAlgorithm(check: String, allowingNullScheme: Bool) throws {
        guard nameAlgorithm == .sha256 else {
            throw AttestationError.refused(check, "nameAlg \(nameAlgorithm), not sha256")
        }
        let expectedScheme: TPMAlgorithm
        switch (type, ecc?.curve, rsa?.keyBits) {
        case (.ecc, .nistP256?, _): expectedScheme = .ecdsa
        case (.rsa, _, 2048?): expectedScheme = .rsassa
        default:
            let size = ecc.map { "\($0.curve)" } ?? rsa.map { "\($0.keyBits)-bit" } ?? ""
            throw AttestationError.refused(check, "\(type) \(size) key, not P-256 or RSA-2048")
        }
        let fixedToExpected = scheme.algorithm == expectedScheme && scheme.hash == .sha256
        guard fixedToExpected || (allowingNullScheme && scheme.algorithm == .null) else {
            throw AttestationError.refused(
                check, "scheme \(scheme.algorithm)-\(scheme.hash), not \(expectedScheme)-sha256")
        }
    }
}
