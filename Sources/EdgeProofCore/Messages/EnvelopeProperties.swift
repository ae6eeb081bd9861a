import Foundation

/// The MQTT v5 user properties an agent attaches to an envelope: copies of signed claims for
/// routing and observability, as the prototype's HTTP headers were. Never trusted on their own.
public enum EnvelopeProperty {
    public static let workloadGeoID = "Workload-Geo-ID"
    public static let signatureInput = "Signature-Input"
}

/// `Workload-Geo-ID`: the prototype's JSON.
public struct WorkloadGeoID: Sendable, Hashable, Codable {
    public var clientWorkloadID: String
    public var clientWorkloadLocation: GeographicRegion
    public var clientWorkloadLocationType: String
    public var clientWorkloadLocationQuality: String?
    public var clientType: String

    enum CodingKeys: String, CodingKey {
        case clientWorkloadID = "client_workload_id"
        case clientWorkloadLocation = "client_workload_location"
        case clientWorkloadLocationType = "client_workload_location_type"
        case clientWorkloadLocationQuality = "client_workload_location_quality"
        case clientType = "client_type"
    }

    public init(claims: EnvelopeClaims) {
        clientWorkloadID = claims.agentName
        clientWorkloadLocation = claims.geographicRegion
        clientWorkloadLocationType = "geographic-region"
        clientWorkloadLocationQuality = claims.geolocation?.quality
        clientType = "thick"
    }

    public var headerValue: String {
        return (try? WireJSON.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// `Signature-Input`, after RFC 9421 as in the prototype:
/// `keyid="<hash>", created=<unix s>, expires=<unix s>, alg="ES256", nonce="<nonce>"`.
public struct SignatureInput: Sendable, Hashable {
    public var keyID: PublicKeyHash
    /// The claims' timestamp, Unix seconds.
    public var created: Int64
    /// The nonce's expiry, Unix seconds.
    public var expires: Int64
    public var algorithm: SignatureAlgorithm
    public var nonce: String

    public init(keyID: PublicKeyHash, created: Int64, expires: Int64, algorithm: SignatureAlgorithm, nonce: String) {
        self.keyID = keyID
        self.created = created
        self.expires = expires
        self.algorithm = algorithm
        self.nonce = nonce
    }

    public init(envelope: SignedEnvelope, nonceExpiresAt: Date) {
        let created = Timestamp.date(from: envelope.claims.timestamp)?.timeIntervalSince1970 ?? 0
        self.init(
            keyID: envelope.header.keyID, created: Int64(created.rounded(.down)),
            expires: Int64(nonceExpiresAt.timeIntervalSince1970.rounded(.down)), algorithm: envelope.header.algorithm,
            nonce: envelope.claims.nonce)
    }

    public var headerValue: String {
        #"keyid="\#(keyID.hex)", created=\#(created), expires=\#(expires), alg="\#(algorithm.rawValue)", nonce="\#(nonce)""#
    }

    /// Parses the header form; nil when any member is missing, malformed or given twice, the keyid not in
    /// its canonical form (64 lowercase hex digits), or created/expires not plain decimal digits.
    public init?(parsing text: String) {
        guard text.utf8.count <= 512 else { return nil }
        var members: [String: String] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace() }
            guard pair.count == 2 else { return nil }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard members.updateValue(value, forKey: pair[0]) == nil else { return nil }
        }
        func seconds(_ text: String?) -> Int64? {
            guard let text, !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            return Int64(text)
        }
        guard let keyID = members["keyid"].flatMap({ PublicKeyHash(canonicalHex: $0) }),
            let created = seconds(members["created"]),
            let expires = seconds(members["expires"]),
            let algorithm = members["alg"].flatMap({ SignatureAlgorithm(rawValue: $0) }),
            let nonce = members["nonce"]
        else { return nil }
        self.init(keyID: keyID, created: created, expires: expires, algorithm: algorithm, nonce: nonce)
    }
}

extension WorkloadGeoID {
    /// Reads the property value strictly (``StrictJSONDecoder``): in enforce mode the gateway compares it
    /// with the signed claims, so it must mean the same to every reader.
    public init(strictJSON value: String) throws(JSONRefusal) {
        self = try StrictJSONDecoder().decode(WorkloadGeoID.self, from: value.utf8)
    }
}
