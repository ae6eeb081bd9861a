/// The stage of validation that failed, as named in the aligned error format.
public enum ValidationType: String, Sendable, Codable, CaseIterable {
    case requestValidation = "request_validation"
    case agentVerification = "agent_verification"
    case signatureVerification = "signature_verification"
    case nonceValidation = "nonce_validation"
    case geolocationPolicy = "geolocation_policy"
    case timestampProximity = "timestamp_proximity"
    /// The registrar refused enrollment evidence (EK certificate, activation, certify, quote, platform).
    case trustEvidence = "trust_evidence"
}

/// The component that turned a message away.
public enum RejectingComponent: String, Sendable, Codable, CaseIterable {
    case gateway
    case collector
    case registrar
}
