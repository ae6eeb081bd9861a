import Foundation

/// Checks on a parsed envelope that gateway and collector share, beyond the signature.
extension SignedEnvelope {
    /// The signed `agent_name` must be the `{agent}` of the topic it arrived on.
    public func checkTopic(agent topicAgent: String) throws(ValidationFailure) {
        guard claims.agentName == topicAgent else {
            throw ValidationFailure(
                .topicMismatch, "envelope of \(claims.agentName) arrived on the topic of \(topicAgent)",
                details: ["agent_name": .string(claims.agentName), "topic_agent": .string(topicAgent)])
        }
    }

    /// The signing time must be within `skew` of `now`, in both directions.
    public func checkTimestamp(now: Date, skew: Duration) throws(ValidationFailure) {
        guard let signed = Timestamp.date(from: claims.timestamp) else {
            throw ValidationFailure(.malformedEnvelope, "timestamp is not an ISO 8601 UTC time")
        }
        let allowed = Double(skew.components.seconds)
        let offset = signed.timeIntervalSince(now)
        guard abs(offset) <= allowed else {
            let direction = offset > 0 ? "ahead of" : "behind"
            throw ValidationFailure(
                .timestampSkew, "timestamp is \(Int(abs(offset).rounded())) s \(direction) the receiver's clock (allowed \(Int(allowed)) s)",
                details: ["timestamp": .string(claims.timestamp), "allowed_skew_s": .number(allowed)])
        }
    }

    /// The signing time must lie inside the validity window of the envelope's nonce, widened by `skew`
    /// both ways. A nonce the collector issued proves when signing became possible (its expiry minus
    /// `lifetime`) and when it stopped (its expiry), so this holds without trusting any clock but the
    /// collector's own, and without trusting the gateway to have checked the time.
    public func checkTimestamp(within nonce: ValidNonce, lifetime: Duration, skew: Duration) throws(ValidationFailure) {
        guard let signed = Timestamp.date(from: claims.timestamp) else {
            throw ValidationFailure(.malformedEnvelope, "timestamp is not an ISO 8601 UTC time")
        }
        let allowed = Double(skew.components.seconds)
        let issuedAt = nonce.expiresAt.addingTimeInterval(-Double(lifetime.components.seconds))
        let earliest = issuedAt.addingTimeInterval(-allowed)
        let latest = nonce.expiresAt.addingTimeInterval(allowed)
        guard signed >= earliest, signed <= latest else {
            let sentence =
                signed < earliest
                ? "timestamp is \(Int(issuedAt.timeIntervalSince(signed).rounded())) s before its nonce was issued"
                : "timestamp is \(Int(signed.timeIntervalSince(nonce.expiresAt).rounded())) s after its nonce expired"
            throw ValidationFailure(
                .timestampSkew, "\(sentence) (allowed skew \(Int(allowed)) s)",
                details: [
                    "timestamp": .string(claims.timestamp), "allowed_skew_s": .number(allowed),
                    "not_before": .string(Timestamp.string(from: earliest)),
                    "not_after": .string(Timestamp.string(from: latest)),
                ])
        }
    }

    /// User properties are copies of signed claims: those present must agree with them. Missing ones
    /// are fine (MQTT 3.1.1 hops drop properties); unparsable ones are not.
    public func checkProperties(_ properties: [(name: String, value: String)]) throws(ValidationFailure) {
        for (name, value) in properties {
            switch name {
            case EnvelopeProperty.workloadGeoID:
                let geo: WorkloadGeoID
                do {
                    geo = try WorkloadGeoID(strictJSON: value)
                } catch {
                    throw ValidationFailure(
                        .headerMismatch,
                        "Workload-Geo-ID is not strict JSON of the expected shape: \(error.description(in: name))",
                        details: ["property": .string(name)])
                }
                // The quality is a copy of the signed geolocation's, when both say one.
                let qualityAgrees =
                    geo.clientWorkloadLocationQuality == nil || claims.geolocation?.quality == nil
                    || geo.clientWorkloadLocationQuality == claims.geolocation?.quality
                guard geo.clientWorkloadID == claims.agentName, geo.clientWorkloadLocation == claims.geographicRegion,
                    qualityAgrees
                else {
                    throw ValidationFailure(
                        .headerMismatch, "Workload-Geo-ID says \(geo.clientWorkloadID) at \(geo.clientWorkloadLocation), the signed claims \(claims.agentName) at \(claims.geographicRegion)",
                        details: ["property": .string(name)])
                }
            case EnvelopeProperty.signatureInput:
                guard let input = SignatureInput(parsing: value) else {
                    throw ValidationFailure(.headerMismatch, "Signature-Input is malformed", details: ["property": .string(name)])
                }
                let created = Timestamp.date(from: claims.timestamp).map { Int64($0.timeIntervalSince1970.rounded(.down)) }
                // `expires` is the nonce's expiry, which the signed nonce itself carries.
                let expires = NonceAuthority.claimedExpiry(of: claims.nonce).map { Int64($0.timeIntervalSince1970.rounded(.down)) }
                guard input.keyID == header.keyID, input.algorithm == header.algorithm, input.nonce == claims.nonce,
                    input.created == created, expires == nil || input.expires == expires
                else {
                    throw ValidationFailure(
                        .headerMismatch, "Signature-Input disagrees with the signed header and claims",
                        details: ["property": .string(name)])
                }
            default:
                continue
            }
        }
    }
}
