/// The TPM's dictionary-attack (DA) state, as `TPM2_GetCapability` reports it (TPM_PT_PERMANENT,
/// TPM_PT_LOCKOUT_COUNTER, TPM_PT_MAX_AUTH_FAIL, TPM_PT_LOCKOUT_INTERVAL, TPM_PT_LOCKOUT_RECOVERY).
///
/// Every authorization failure of a DA-protected object, and every start after an unclean shutdown in which
/// one was used, adds one to the counter; at `maximumFailures` the TPM refuses such objects with
/// TPM_RC_LOCKOUT. It forgives one failure per `lockoutInterval` of powered time. Keys with `noDA` (all that
/// EdgeProof creates) are never refused.
public struct TPMDictionaryAttackStatus: Sendable, Hashable, CustomStringConvertible {
    /// Failures counted (TPM_PT_LOCKOUT_COUNTER).
    public let failures: UInt32
    /// Failures that start the lockout (TPM_PT_MAX_AUTH_FAIL).
    public let maximumFailures: UInt32
    /// Seconds after which the TPM forgives one failure (TPM_PT_LOCKOUT_INTERVAL).
    public let lockoutInterval: UInt32
    /// Seconds after a failed lockoutAuth before it may be tried again (TPM_PT_LOCKOUT_RECOVERY).
    public let lockoutRecovery: UInt32
    /// TPMA_PERMANENT inLockout.
    public let inLockout: Bool

    public init(failures: UInt32, maximumFailures: UInt32, lockoutInterval: UInt32, lockoutRecovery: UInt32,
        inLockout: Bool)
    {
        self.failures = failures
        self.maximumFailures = maximumFailures
        self.lockoutInterval = lockoutInterval
        self.lockoutRecovery = lockoutRecovery
        self.inLockout = inLockout
    }

    /// Powered time until the TPM leaves the lockout by itself: enough forgiven failures to fall below the
    /// maximum. Zero when it is not in lockout.
    public var recoveryTime: Duration {
        guard inLockout else { return .zero }
        let excess = UInt64(failures >= maximumFailures ? failures - maximumFailures + 1 : 1)
        return .seconds(excess * UInt64(lockoutInterval))
    }

    public var description: String {
        let state = inLockout ? "in lockout" : "not in lockout"
        return "\(state), \(failures) of \(maximumFailures) failures counted, one forgiven every \(lockoutInterval) s,"
            + " lockout recovery \(lockoutRecovery) s"
    }
}
