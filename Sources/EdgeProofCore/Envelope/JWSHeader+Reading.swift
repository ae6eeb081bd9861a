/// The protected header read with the strict ``JSONReader``, then checked member by member so that
/// each problem gets its own reason: a header that is not strict JSON (a duplicate `alg`, a trailing
/// comma, …) or lacks a member is `malformed_envelope`, an alg other than ES256 and RS256
/// `unsupported_alg`, a kid that names the right hash in another spelling (uppercase hex) `header_mismatch`:
/// it contradicts the signed `tpm_public_key_hash`, which is only ever lowercase.
extension JWSHeader {
    init(checking bytes: [UInt8]) throws(ValidationFailure) {
        let members: Members
        do {
            members = try JSONReader.read(bytes) { reader throws(JSONRefusal) in try Members(reading: &reader) }
        } catch {
            throw ValidationFailure(.malformedEnvelope, error.description(in: "protected header"))
        }
        guard let alg = members.alg else {
            throw ValidationFailure(.malformedEnvelope, "protected header has no alg")
        }
        guard let algorithm = SignatureAlgorithm(rawValue: alg) else {
            throw ValidationFailure(
                .unsupportedAlgorithm, "alg \"\(alg.prefix(32))\" is not allowed; use ES256 or RS256",
                details: ["alg": .string(String(alg.prefix(32)))])
        }
        guard !members.hasCrit else {
            throw ValidationFailure(
                .malformedEnvelope, "protected header has crit parameters this receiver does not understand")
        }
        guard let kid = members.kid, PublicKeyHash(hex: kid) != nil else {
            throw ValidationFailure(.malformedEnvelope, "protected header kid must be the 64-hex-digit public key hash")
        }
        guard let keyID = PublicKeyHash(canonicalHex: kid) else {
            throw ValidationFailure(
                .headerMismatch,
                "protected header kid must be written as 64 lowercase hex digits, as the signed hash is",
                details: ["field": "kid"])
        }
        guard members.typ == Self.envelopeType else {
            throw ValidationFailure(.malformedEnvelope, "protected header typ must be \"\(Self.envelopeType)\"")
        }
        self.init(algorithm: algorithm, keyID: keyID)
    }

    /// The members as found; every one at most once, other members read strictly and ignored.
    private struct Members {
        var alg: String?
        var kid: String?
        var typ: String?
        var hasCrit = false

        init(reading reader: inout JSONReader) throws(JSONRefusal) {
            var seen = JSONReader.Members()
            var alg: String?
            var kid: String?
            var typ: String?
            var hasCrit = false
            try reader.readObject { reader, key throws(JSONRefusal) in
                if key == "alg" {
                    try seen.first(0, key)
                    alg = try reader.readString()
                } else if key == "kid" {
                    try seen.first(1, key)
                    kid = try reader.readString()
                } else if key == "typ" {
                    try seen.first(2, key)
                    typ = try reader.readString()
                } else if key == "crit" {
                    try seen.first(3, key)
                    _ = try reader.readValue()
                    hasCrit = true
                } else {
                    try seen.skip(key, in: &reader)
                }
            }
            self.alg = alg
            self.kid = kid
            self.typ = typ
            self.hasCrit = hasCrit
        }
    }
}
