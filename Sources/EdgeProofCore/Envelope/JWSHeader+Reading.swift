/// The protected header read straight from its JSON bytes with ``JSONReader``: only a header the
/// checks in `SignedEnvelope(parsing:)` accept (alg ES256 or RS256, a 64-hex-digit kid, the envelope
/// typ, no crit); anything else is ``JSONReader/Unsupported`` and goes to the full path, which says why.
extension JWSHeader {
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var algorithm: SignatureAlgorithm?
        var keyID: PublicKeyHash?
        var type: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "alg" {
                try members.first(0)
                algorithm = SignatureAlgorithm(rawValue: try reader.readString())
            } else if key == "kid" {
                try members.first(1)
                keyID = try PublicKeyHash(reading: &reader)
            } else if key == "typ" {
                try members.first(2)
                type = try reader.readString()
            } else if key == "crit" {
                throw JSONReader.Unsupported()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let algorithm, let keyID, type == Self.envelopeType else { throw JSONReader.Unsupported() }
        self.init(algorithm: algorithm, keyID: keyID)
    }
}
