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
    ///
    /// Envelope, protected header and claims are each read by the strict ``JSONReader`` alone (RFC 8259
    /// and I-JSON: no duplicate names, no trailing commas, …): what it refuses is refused with its words,
    /// what it takes means the same to any strict reader. Nothing is left to a more lenient parser.
    public init(parsing bytes: some DataProtocol, maximumSize: Int = defaultMaximumSize) throws(ValidationFailure) {
        guard bytes.count <= maximumSize else {
            throw ValidationFailure(
                .payloadTooLarge, "envelope of \(bytes.count) bytes exceeds the limit of \(maximumSize) bytes",
                details: ["size": .number(Double(bytes.count)), "limit": .number(Double(maximumSize))])
        }
        func run(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<SignedEnvelope, ValidationFailure> {
            Result { () throws(ValidationFailure) in try Self.read(buffer) }
        }
        let result = bytes.withContiguousStorageIfAvailable(run) ?? Array(bytes).withUnsafeBufferPointer(run)
        self = try result.get()
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

    /// The one reading of an envelope, in the contract's order: the JWS, the header (an envelope with
    /// alg "none" and no signature is an unsupported alg), the signature, the claims and their checks.
    static func read(_ bytes: UnsafeBufferPointer<UInt8>) throws(ValidationFailure) -> SignedEnvelope {
        var (protected, payload, signature): (String, String, String)
        do {
            (protected, payload, signature) = try JSONReader.read(bytes) { reader throws(JSONRefusal) in
                try FlattenedJWS.reading(&reader)
            }
        } catch {
            throw ValidationFailure(
                .malformedEnvelope, "not a JWS in flattened JSON form: \(error.description(in: "the envelope"))")
        }
        let header = try readHeader(&protected)
        guard let signatureBytes = signature.withUTF8({ Base64URL.decodeBytes($0) }), !signatureBytes.isEmpty else {
            throw ValidationFailure(.malformedEnvelope, "signature is missing or not base64url")
        }
        guard let payloadBytes = payload.withUTF8({ Base64URL.decodeBytes($0) }) else {
            throw ValidationFailure(.malformedEnvelope, "payload is not base64url")
        }
        let (claims, metricsRange): (EnvelopeClaims, Range<Int>?)
        do {
            (claims, metricsRange) = try JSONReader.read(payloadBytes) { reader throws(JSONRefusal) in
                var metricsRange: Range<Int>?
                let claims = try EnvelopeClaims(reading: &reader, metricsRange: &metricsRange)
                return (claims, metricsRange)
            }
        } catch {
            throw ValidationFailure(.malformedEnvelope, error.description(in: "claims"))
        }
        try checkClaims(claims, header: header)
        return SignedEnvelope(
            protected: protected, payload: payload, signature: signature, signatureBytes: signatureBytes,
            header: header, claims: claims, signedMetricsJSON: metricsRange.map { payloadBytes[$0] })
    }

    /// Builds and signs an envelope for `claims`; the header's `alg` and `kid` come from the signer.
    ///
    /// Header and claims are JSON with sorted keys and unescaped slashes, written by ``JSONWriter`` by hand
    /// (the same bytes as ``WireJSON``; this runs for every envelope the agent sends: `bench agent`).
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

    /// The header of `protected`, from ``ProtectedHeaderCache`` when seen before (an agent sends the same
    /// header with every envelope): only headers that passed every check are kept.
    private static func readHeader(_ protected: inout String) throws(ValidationFailure) -> JWSHeader {
        if let header = ProtectedHeaderCache.shared.header(for: protected) { return header }
        guard let bytes = protected.withUTF8({ Base64URL.decodeBytes($0) }) else {
            throw ValidationFailure(.malformedEnvelope, "protected header is not base64url")
        }
        let header = try JWSHeader(checking: bytes)
        ProtectedHeaderCache.shared.insert(header, for: protected)
        return header
    }

    /// The claims as ``sign(_:with:)`` signs them. What ``JSONWriter`` refuses (a number JSON cannot carry,
    /// absurd nesting) goes to ``WireJSON``, which throws `JSONEncoder`'s error for it.
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
        if let problem = claims.geolocation?.implausibility {
            throw ValidationFailure(.malformedEnvelope, problem)
        }
    }
}

/// The outer JWS object: exactly the three members of the flattened serialization, each once. Any
/// other member is refused: an unprotected `header` would let a JOSE library read a kid or alg that
/// the signature does not cover.
private enum FlattenedJWS {
    static func reading(_ reader: inout JSONReader) throws(JSONRefusal) -> (String, String, String) {
        var protected: String?
        var payload: String?
        var signature: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "protected" {
                try members.first(0, key)
                protected = try reader.readString()
            } else if key == "payload" {
                try members.first(1, key)
                payload = try reader.readString()
            } else if key == "signature" {
                try members.first(2, key)
                signature = try reader.readString()
            } else {
                throw JSONRefusal("a member other than protected, payload and signature")
            }
        }
        guard let protected else { throw JSONRefusal.missing("protected") }
        guard let payload else { throw JSONRefusal.missing("payload") }
        guard let signature else { throw JSONRefusal.missing("signature") }
        return (protected, payload, signature)
    }
}
