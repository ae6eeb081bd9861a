import Crypto
import Foundation

/// A metric envelope in JWS Flattened JSON Serialization (RFC 7515 §7.2.2):
/// `{"protected": b64url(header), "payload": b64url(claims), "signature": b64url(sig)}`.
///
/// The base64url strings are kept exactly as received: the signature is checked over them, never
/// over a re-serialization.
public struct SignedEnvelope: Sendable {
    public let protected: String
    public let payload: String
    public let signature: String
    public let header: JWSHeader
    public let claims: EnvelopeClaims
    /// The decoded signature bytes.
    public let signatureBytes: [UInt8]
    /// The `metrics` value exactly as the agent signed it, when the envelope was read in one pass
    /// (nil after the full path): a record carries these bytes rather than re-encoding the metrics.
    let signedMetricsJSON: ArraySlice<UInt8>?

    /// Envelopes above this size are refused before any parsing.
    public static let defaultMaximumSize = 256 * 1024

    /// ASCII(protected + "." + payload), the bytes the signature covers.
    public var signingInput: [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(protected.utf8.count + 1 + payload.utf8.count)
        bytes.append(contentsOf: protected.utf8)
        bytes.append(UInt8(ascii: "."))
        bytes.append(contentsOf: payload.utf8)
        return bytes
    }

    /// SHA-256 of ``signingInput``, hashed from the received strings in place.
    var signingInputDigest: SHA256.Digest {
        Self.signingInputDigest(protected: protected, payload: payload)
    }

    private static func signingInputDigest(protected: String, payload: String) -> SHA256.Digest {
        var hasher = SHA256()
        var (protected, payload) = (protected, payload)
        protected.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        withUnsafeBytes(of: UInt8(ascii: ".")) { hasher.update(bufferPointer: $0) }
        payload.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize()
    }

    /// Parses and structurally validates an envelope. Every failure is a `request_validation`,
    /// `signature_verification` (`unsupported_alg`, `header_mismatch`) failure with a specific reason.
    public init(parsing bytes: some DataProtocol, maximumSize: Int = defaultMaximumSize) throws(ValidationFailure) {
        guard bytes.count <= maximumSize else {
            throw ValidationFailure(
                .payloadTooLarge, "envelope of \(bytes.count) bytes exceeds the limit of \(maximumSize) bytes",
                details: ["size": .number(Double(bytes.count)), "limit": .number(Double(maximumSize))])
        }
        // The common case, a well-formed envelope, is read in one pass over the bytes. Whatever that
        // reader does not take goes the full way below, which accepts or refuses it and says why.
        let read =
            bytes.withContiguousStorageIfAvailable { Self.read($0) }
            ?? Array(bytes).withUnsafeBufferPointer { Self.read($0) }
        if let read {
            try Self.checkClaims(read.claims, header: read.header)
            self = read
        } else {
            self = try Self.decodeInFull(Data(bytes))
        }
    }

    /// The full path: `JSONDecoder` and every check in order, each failure with its own reason and
    /// message. ``read(_:)`` is the shortcut that must agree with it.
    static func decodeInFull(_ data: Data) throws(ValidationFailure) -> SignedEnvelope {
        guard !JSONNesting.exceeds(in: data) else {
            throw ValidationFailure(
                .malformedEnvelope, "envelope nests deeper than \(JSONNesting.maximumDepth) levels")
        }
        let outer: FlattenedJWS
        do {
            outer = try JSONDecoder().decode(FlattenedJWS.self, from: data)
        } catch {
            throw ValidationFailure(.malformedEnvelope, "not a JWS in flattened JSON form: \(DecodingProblem.describe(error))")
        }
        guard let headerBytes = Base64URL.decode(outer.protected) else {
            throw ValidationFailure(.malformedEnvelope, "protected header is not base64url")
        }
        guard let payloadBytes = Base64URL.decode(outer.payload) else {
            throw ValidationFailure(.malformedEnvelope, "payload is not base64url")
        }
        guard !JSONNesting.exceeds(in: headerBytes), !JSONNesting.exceeds(in: payloadBytes) else {
            throw ValidationFailure(
                .malformedEnvelope, "protected header or claims nest deeper than \(JSONNesting.maximumDepth) levels")
        }
        // The header first: an envelope with alg "none" and no signature is an unsupported alg.
        let header = try Self.decodeHeader(headerBytes)
        guard let signatureBytes = Base64URL.decode(outer.signature), !signatureBytes.isEmpty else {
            throw ValidationFailure(.malformedEnvelope, "signature is missing or not base64url")
        }
        let claims: EnvelopeClaims
        do {
            claims = try JSONDecoder().decode(EnvelopeClaims.self, from: payloadBytes)
        } catch {
            throw ValidationFailure(.malformedEnvelope, "claims: \(DecodingProblem.describe(error))")
        }
        try Self.checkClaims(claims, header: header)
        return SignedEnvelope(
            protected: outer.protected, payload: outer.payload, signature: outer.signature,
            signatureBytes: Array(signatureBytes), header: header, claims: claims)
    }

    private init(
        protected: String, payload: String, signature: String? = nil, signatureBytes: [UInt8], header: JWSHeader,
        claims: EnvelopeClaims, signedMetricsJSON: ArraySlice<UInt8>? = nil
    ) {
        self.signedMetricsJSON = signedMetricsJSON
        self.protected = protected
        self.payload = payload
        self.signature = signature ?? Base64URL.encode(signatureBytes)
        self.header = header
        self.claims = claims
        self.signatureBytes = signatureBytes
    }

    /// The fast path of ``init(parsing:maximumSize:)``: an envelope that the full path would take
    /// with the same header and claims up to ``checkClaims(_:header:)``, or nil to leave the bytes to it.
    static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> SignedEnvelope? {
        guard
            let (protected, payload, signature) = JSONReader.read(bytes, { reader throws(JSONReader.Unsupported) in
                try FlattenedJWS.reading(&reader)
            })
        else { return nil }
        var (protectedText, payloadText, signatureText) = (protected, payload, signature)
        guard let header = readHeader(&protectedText),
            let payloadBytes = payloadText.withUTF8({ Base64URL.decodeBytes($0) }),
            let signatureBytes = signatureText.withUTF8({ Base64URL.decodeBytes($0) }), !signatureBytes.isEmpty,
            let (claims, metricsRange) = payloadBytes.withUnsafeBufferPointer({ bytes in
                JSONReader.read(bytes) { reader throws(JSONReader.Unsupported) in
                    var metricsRange: Range<Int>?
                    let claims = try EnvelopeClaims(reading: &reader, metricsRange: &metricsRange)
                    return (claims, metricsRange)
                }
            })
        else { return nil }
        return SignedEnvelope(
            protected: protectedText, payload: payloadText, signature: signatureText, signatureBytes: signatureBytes,
            header: header, claims: claims, signedMetricsJSON: metricsRange.map { payloadBytes[$0] })
    }

    /// Builds and signs an envelope for `claims`; the header's `alg` and `kid` come from the signer.
    ///
    /// Header and claims are JSON with sorted keys and unescaped slashes, written by ``JSONWriter`` (the
    /// same bytes as `JSONEncoder`, in a tenth of the time: this runs for every envelope the agent sends).
    public static func sign(_ claims: EnvelopeClaims, with signer: some EnvelopeSigner) async throws -> SignedEnvelope {
        let header = JWSHeader(algorithm: signer.algorithm, keyID: signer.publicKeyHash)
        var headerJSON = JSONWriter(capacity: 128)
        headerJSON.write(header)
        let protected = Base64URL.encode(headerJSON.bytes)
        let payload = Base64URL.encode(try claimsJSON(claims))
        let signature = try await signer.signature(
            forDigest: signingInputDigest(protected: protected, payload: payload))
        return SignedEnvelope(
            protected: protected, payload: payload, signatureBytes: signature, header: header, claims: claims)
    }

    /// The header of `protected` through the fast reader, from ``ProtectedHeaderCache`` when seen before.
    private static func readHeader(_ protected: inout String) -> JWSHeader? {
        if let header = ProtectedHeaderCache.shared.header(for: protected) { return header }
        guard let bytes = protected.withUTF8({ Base64URL.decodeBytes($0) }),
            let header = bytes.withUnsafeBufferPointer({ bytes in
                JSONReader.read(bytes) { reader throws(JSONReader.Unsupported) in try JWSHeader(reading: &reader) }
            })
        else { return nil }
        ProtectedHeaderCache.shared.insert(header, for: protected)
        return header
    }

    /// The claims as ``sign(_:with:)`` signs them. What ``JSONWriter`` refuses (a number JSON cannot carry,
    /// absurd nesting) goes to `JSONEncoder`, which throws its usual error for it.
    static func claimsJSON(_ claims: EnvelopeClaims) throws -> [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        do {
            try writer.write(claims)
            return writer.bytes
        } catch {
            return Array(try WireJSON.encode(claims))
        }
    }

    /// The MQTT payload: the flattened JSON serialization.
    public func serialized() -> Data {
        // Base64url strings need no JSON escaping, so plain concatenation is exact and cheap.
        let parts = [#"{"protected":""#, protected, #"","payload":""#, payload, #"","signature":""#, signature, #""}"#]
        var bytes = [UInt8]()
        bytes.reserveCapacity(parts.reduce(0) { $0 + $1.utf8.count })
        for part in parts { bytes.append(contentsOf: part.utf8) }
        return Data(bytes)
    }

    /// Verifies the signature with `key`, over the exact received bytes.
    public func verifySignature(with key: AgentPublicKey) throws(ValidationFailure) {
        guard header.algorithm == key.algorithm else {
            throw ValidationFailure(
                .unsupportedAlgorithm,
                "alg \(header.algorithm) does not match the agent's \(key.keyDescription) key",
                details: ["alg": .string(header.algorithm.rawValue)])
        }
        if header.algorithm == .es256, signatureBytes.count != 64 {
            throw ValidationFailure(
                .badSignature, "ES256 signature must be 64 bytes, got \(signatureBytes.count)")
        }
        guard key.isValidSignature(signatureBytes, forDigest: signingInputDigest) else {
            throw ValidationFailure(.badSignature, "signature does not verify with the allowlisted key")
        }
    }

    private static func decodeHeader(_ bytes: Data) throws(ValidationFailure) -> JWSHeader {
        guard let fields = try? JSONDecoder().decode([String: JSONValue].self, from: bytes) else {
            throw ValidationFailure(.malformedEnvelope, "protected header is not a JSON object")
        }
        guard let alg = fields["alg"]?.stringValue else {
            throw ValidationFailure(.malformedEnvelope, "protected header has no alg")
        }
        guard let algorithm = SignatureAlgorithm(rawValue: alg) else {
            throw ValidationFailure(
                .unsupportedAlgorithm, "alg \"\(alg.prefix(32))\" is not allowed; use ES256 or RS256",
                details: ["alg": .string(String(alg.prefix(32)))])
        }
        guard fields["crit"] == nil else {
            throw ValidationFailure(.malformedEnvelope, "protected header has crit parameters this receiver does not understand")
        }
        guard let kid = fields["kid"]?.stringValue, let keyID = PublicKeyHash(hex: kid) else {
            throw ValidationFailure(.malformedEnvelope, "protected header kid must be the 64-hex-digit public key hash")
        }
        guard fields["typ"]?.stringValue == JWSHeader.envelopeType else {
            throw ValidationFailure(.malformedEnvelope, "protected header typ must be \"\(JWSHeader.envelopeType)\"")
        }
        return JWSHeader(algorithm: algorithm, keyID: keyID)
    }

    private static func checkClaims(_ claims: EnvelopeClaims, header: JWSHeader) throws(ValidationFailure) {
        guard claims.version == EnvelopeClaims.currentVersion else {
            throw ValidationFailure(.malformedEnvelope, "claims version \(claims.version) is not supported (expected 1)")
        }
        guard AgentName.isValid(claims.agentName) else {
            throw ValidationFailure(.malformedEnvelope, "agent_name is not a valid agent name")
        }
        guard header.keyID == claims.publicKeyHash else {
            throw ValidationFailure(
                .headerMismatch, "header kid differs from the signed tpm_public_key_hash",
                details: ["field": "kid"])
        }
        guard Timestamp.date(from: claims.timestamp) != nil else {
            throw ValidationFailure(.malformedEnvelope, "timestamp is not an ISO 8601 UTC time")
        }
        guard !claims.nonce.isEmpty, claims.nonce.utf8.count <= 256 else {
            throw ValidationFailure(.malformedEnvelope, "nonce must be a non-empty string of at most 256 bytes")
        }
        guard claims.geographicRegion.isWellFormed else {
            throw ValidationFailure(.malformedEnvelope, "geographic_region needs a region, and a state when it has a city")
        }
        if let geolocation = claims.geolocation, !geolocation.isPlausible {
            throw ValidationFailure(.malformedEnvelope, "geolocation is outside valid latitude/longitude ranges")
        }
    }
}

private struct FlattenedJWS: Decodable {
    var protected: String
    var payload: String
    var signature: String
}

extension FlattenedJWS {
    /// Exactly the three members, each once; other members (which `JSONDecoder` would ignore) are
    /// left to the full path.
    static func reading(_ reader: inout JSONReader) throws(JSONReader.Unsupported) -> (String, String, String) {
        var protected: String?
        var payload: String?
        var signature: String?
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "protected", protected == nil {
                protected = try reader.readString()
            } else if key == "payload", payload == nil {
                payload = try reader.readString()
            } else if key == "signature", signature == nil {
                signature = try reader.readString()
            } else {
                throw JSONReader.Unsupported()
            }
        }
        guard let protected, let payload, let signature else { throw JSONReader.Unsupported() }
        return (protected, payload, signature)
    }
}
