extension TPMDevice {
    /// The signing key's handle when none is configured: the default, unless the default is empty and
    /// a key sits at the legacy handle (an install made before the default moved out of the EK block),
    /// which then stays in use — its key is the one the allowlist knows.
    public func signingKeyHandleWhenUnconfigured() throws(TPMError) -> PersistentHandle {
        if try existingPublic(at: .defaultSigningKey) != nil { return .defaultSigningKey }
        if try existingPublic(at: .legacySigningKey) != nil { return .legacySigningKey }
        return .defaultSigningKey
    }
}
