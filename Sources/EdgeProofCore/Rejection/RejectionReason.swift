/// A specific, machine-readable reason for a rejection (`details.reason` on the wire), with the
/// validation stage it belongs to and the sentence shown to people.
public struct RejectionReason: Sendable, Hashable, CustomStringConvertible {
    public let code: String
    public let validationType: ValidationType
    public let summary: String

    public init(code: String, validationType: ValidationType, summary: String) {
        self.code = code
        self.validationType = validationType
        self.summary = summary
    }

    public var description: String { code }
}

extension RejectionReason {
    public static let malformedEnvelope = RejectionReason(
        code: "malformed_envelope", validationType: .requestValidation, summary: "Malformed envelope")
    public static let payloadTooLarge = RejectionReason(
        code: "payload_too_large", validationType: .requestValidation, summary: "Payload too large")
    public static let topicMismatch = RejectionReason(
        code: "topic_mismatch", validationType: .requestValidation,
        summary: "Envelope agent does not match the topic it was published on")
    public static let agentNotFound = RejectionReason(
        code: "agent_not_found", validationType: .agentVerification, summary: "Agent not found in allowlist")
    public static let agentRevoked = RejectionReason(
        code: "agent_revoked", validationType: .agentVerification, summary: "Agent is revoked")
    public static let publicKeyHashMismatch = RejectionReason(
        code: "public_key_hash_mismatch", validationType: .agentVerification, summary: "Public key hash mismatch")
    public static let agentNotAttested = RejectionReason(
        code: "agent_not_attested", validationType: .agentVerification,
        summary: "Agent's key is not attested to the required trust level, or its attestation is stale")
    public static let headerMismatch = RejectionReason(
        code: "header_mismatch", validationType: .signatureVerification,
        summary: "Header or properties contradict the signed claims")
    public static let badSignature = RejectionReason(
        code: "bad_signature", validationType: .signatureVerification, summary: "Signature verification failed")
    public static let unsupportedAlgorithm = RejectionReason(
        code: "unsupported_alg", validationType: .signatureVerification, summary: "Unsupported signature algorithm")
    public static let nonceInvalid = RejectionReason(
        code: "nonce_invalid", validationType: .nonceValidation, summary: "Invalid nonce")
    public static let nonceExpired = RejectionReason(
        code: "nonce_expired", validationType: .nonceValidation, summary: "Nonce expired")
    public static let nonceReplayed = RejectionReason(
        code: "nonce_replayed", validationType: .nonceValidation, summary: "Nonce already used")
    public static let nonceAgentMismatch = RejectionReason(
        code: "nonce_agent_mismatch", validationType: .nonceValidation, summary: "Nonce was issued to another agent")
    public static let locationNotAllowed = RejectionReason(
        code: "location_not_allowed", validationType: .geolocationPolicy, summary: "Geolocation verification failed")
    public static let locationOutsideFence = RejectionReason(
        code: "location_outside_fence", validationType: .geolocationPolicy,
        summary: "The signed position's accuracy circle is not wholly inside the declared place's fence")
    public static let locationAccuracyInsufficient = RejectionReason(
        code: "location_accuracy_insufficient", validationType: .geolocationPolicy,
        summary: "The signed position is less accurate than the policy requires, or its accuracy is unknown")
    public static let locationSourceNotAllowed = RejectionReason(
        code: "location_source_not_allowed", validationType: .geolocationPolicy,
        summary: "The signed position comes from a weaker source than the policy requires")
    public static let locationStale = RejectionReason(
        code: "location_stale", validationType: .geolocationPolicy,
        summary: "The signed position's fix is older at signing than the policy allows, or has no time")
    public static let locationSensorNotApproved = RejectionReason(
        code: "location_sensor_not_approved", validationType: .geolocationPolicy,
        summary: "The location receiver is not one the policy approves")
    public static let locationPlaceMismatch = RejectionReason(
        code: "location_place_mismatch", validationType: .geolocationPolicy,
        summary: "The signed position lies in another place's fence than the declared place")
    public static let timestampSkew = RejectionReason(
        code: "timestamp_skew", validationType: .timestampProximity,
        summary: "Timestamp too far from the receiver's clock")
    public static let ekInUse = RejectionReason(
        code: "ek_in_use", validationType: .trustEvidence, summary: "The TPM's EK is already used by another active agent")
    public static let enrollmentRejected = RejectionReason(
        code: "enrollment_rejected", validationType: .trustEvidence,
        summary: "An operator rejected this agent name with this TPM")
    public static let attestationClockRollback = RejectionReason(
        code: "attestation_clock_rollback", validationType: .trustEvidence,
        summary: "The TPM clock went backwards without a reset: replayed or rolled-back evidence")

    /// Every reason this version of the contract defines.
    public static let all: [RejectionReason] = [
        .malformedEnvelope, .payloadTooLarge, .topicMismatch, .agentNotFound, .agentRevoked,
        .publicKeyHashMismatch, .agentNotAttested, .headerMismatch, .badSignature, .unsupportedAlgorithm, .nonceInvalid,
        .nonceExpired, .nonceReplayed, .nonceAgentMismatch, .locationNotAllowed, .locationOutsideFence,
        .locationAccuracyInsufficient, .locationSourceNotAllowed, .locationStale, .locationSensorNotApproved,
        .locationPlaceMismatch, .timestampSkew,
        .ekInUse, .enrollmentRejected, .attestationClockRollback,
    ] + enrollment
}
