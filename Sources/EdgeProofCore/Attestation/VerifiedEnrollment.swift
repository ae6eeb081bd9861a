/// What a registrar hands to the enrollment book once every check of an enrollment passed: the agent,
/// its signing key, the trust block that proves it (level set by the EK's proof: `tpm-ek-cert` when
/// the certificate chained to a trusted manufacturer CA, else `tpm-ek-pinned`; `approved_by` empty
/// until the book decides) and the places the agent asked for.
public struct VerifiedEnrollment: Sendable {
    public var agent: String
    public var signingKey: AgentPublicKey
    public var trust: TrustBlock
    public var requestedPlaces: [AllowedPlace]
    /// The quote's clock info, to tell a TPM reset (reset count up) from a replay (clock backwards).
    public var clock: TPMClockReading?

    public init(
        agent: String, signingKey: AgentPublicKey, trust: TrustBlock, requestedPlaces: [AllowedPlace],
        clock: TPMClockReading? = nil
    ) {
        self.agent = agent
        self.signingKey = signingKey
        self.trust = trust
        self.requestedPlaces = requestedPlaces
        self.clock = clock
    }
}

/// TPMS_CLOCK_INFO as a quote reports it.
public struct TPMClockReading: Sendable, Hashable, Codable {
    /// Milliseconds the TPM has been powered since its last TPM2_Clear (monotonic but for a Clear).
    public var clock: UInt64
    /// TPM resets (power cycles without Shutdown(STATE)) since the last TPM2_Clear.
    public var resetCount: UInt32
    public var restartCount: UInt32
    public var safe: Bool

    enum CodingKeys: String, CodingKey {
        case clock
        case resetCount = "reset_count"
        case restartCount = "restart_count"
        case safe
    }

    public init(clock: UInt64, resetCount: UInt32, restartCount: UInt32, safe: Bool) {
        self.clock = clock
        self.resetCount = resetCount
        self.restartCount = restartCount
        self.safe = safe
    }
}

/// The enrollment book's answer to a verified enrollment.
public enum EnrollmentDecision: Sendable, Hashable {
    /// On the allowlist (newly, or again: a re-attestation), at this level.
    case approved(TrustLevel)
    /// Waiting for an operator (`edgeproof allowlist approve`), with why it was not automatic.
    case pending(String)
    /// Refused: an EK another active agent uses, a pair the operator rejected, a revoked agent, …
    case refused(ValidationFailure)
}
