import EdgeProofCore

/// A TPM 2.0 reached through a TCTI: swtpm in development and tests, `/dev/tpmrm0` in production.
///
/// One long-lived ESAPI context per device; every call is one or a few TPM commands over it, never a
/// process. Calls run one at a time on the device's own queue, since ESAPI blocks on TPM I/O.
///
/// A broken connection (swtpm restarted, a resource manager that went away, an I/O error on the device)
/// leaves an ESAPI context that refuses every further call, so the device then drops it and opens a new
/// one: at once for the call that failed, then no more often than a backoff (0.25 s doubling to 15 s)
/// allows. Meanwhile calls fail quickly with an ``TPMError/isUnavailable`` error.
public actor TPMDevice {
    /// The TCTI configuration this device was opened with.
    public nonisolated let tcti: String
    private let executor: TPMExecutor
    /// nil after the connection broke, until a reconnect succeeds.
    private var context: ESYSContext?
    /// ESAPI handles of persistent keys already looked up, so a signature costs a single TPM command.
    /// They belong to `context` and go with it.
    private var persistentObjects: [PersistentHandle: ESYSContext.Object] = [:]
    /// Set while disconnected: failed reconnects so far, when the next may be tried, and why.
    private var outage: (attempts: Int, notBefore: ContinuousClock.Instant, cause: TPMError)?
    /// The endorsement key while ``endorsementKey()`` keeps it loaded (a transient object of `context`).
    var loadedEndorsementKey: ESYSContext.Object?

    /// How long to wait between reconnects to a TPM that went away: doubling from the lower bound.
    public static let reconnectBackoff: ClosedRange<Duration> = .milliseconds(250) ... .seconds(15)

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// The device's queue as a task executor. A task that calls the device again and again (the agent's
    /// send loop) runs there with `withTaskExecutorPreference(device.taskExecutor)`; each call is then
    /// made on the same thread, without handing off to the device's queue and back.
    public nonisolated var taskExecutor: any TaskExecutor { executor }

    /// Connects, e.g. `swtpm:host=127.0.0.1,port=2321` or `device:/dev/tpmrm0`.
    public init(tcti: String) throws(TPMError) {
        self.tcti = tcti
        self.executor = TPMExecutor(label: "edgeproof.tpm")
        self.context = try ESYSContext.connect(tcti: tcti)
    }

    /// Makes sure `handle` holds a sign-only `noDA` key of `algorithm` and returns it. Idempotent: a
    /// suitable key already there is returned with `created == false`. Anything else there (another
    /// algorithm, not sign-only, a key without `noDA`) is an error, unless `replace` is set: then it is
    /// evicted and a new key takes its place (``ProvisionedKey/replaced`` names the old key's hash).
    ///
    /// A new key is created under the owner hierarchy's ECC P-256 storage primary key (owner auth empty),
    /// loaded, and made persistent; the transient primary and child are flushed on every path.
    public func provisionSigningKey(_ algorithm: TPMKeyAlgorithm, at handle: PersistentHandle, replace: Bool = false)
        throws(TPMError) -> ProvisionedKey
    {
        var replaced: ProvisionedKey.Replaced?
        if let existing = try existingPublic(at: handle) {
            do throws(TPMError) {
                let key = try usableKey(existing, at: handle, algorithm: algorithm)
                return ProvisionedKey(publicKey: key, handle: handle, algorithm: algorithm, created: false)
            } catch {
                guard replace else { throw error }
                replaced = ProvisionedKey.Replaced(
                    description: existing.keyDescription, attributes: existing.attributeNames,
                    publicKeyHash: existing.agentPublicKey?.hash, reason: error.description)
                try evict(at: handle)
            }
        }
        try createPersistentKey(algorithm, at: handle)
        let key = try usableKey(try readPublic(at: handle), at: handle, algorithm: algorithm)
        return ProvisionedKey(publicKey: key, handle: handle, algorithm: algorithm, created: true, replaced: replaced)
    }

    /// The public key of the sign-only key at `handle`.
    public func publicKey(at handle: PersistentHandle) throws(TPMError) -> AgentPublicKey {
        try signingKeyDetails(at: handle).publicKey
    }

    /// The public key of the sign-only key at `handle`, and whether it has `noDA` (keys made before
    /// EdgeProof set it do not, and an unclean shutdown counts against them).
    public func signingKeyDetails(at handle: PersistentHandle) throws(TPMError)
        -> (publicKey: AgentPublicKey, lockoutExempt: Bool)
    {
        guard let area = try existingPublic(at: handle) else { throw .emptyHandle(handle) }
        return (try signingKey(area, at: handle), area.isLockoutExempt)
    }

    /// The TPM's dictionary-attack counters and lockout state.
    public func dictionaryAttackStatus() throws(TPMError) -> TPMDictionaryAttackStatus {
        try withContext { context throws(TPMError) in try context.dictionaryAttackStatus() }
    }

    /// Signs a SHA-256 digest with the key at `handle` and returns the signature in JWS form (ES256: r‖s,
    /// 64 bytes; RS256: PKCS#1 v1.5).
    ///
    /// A TPM in dictionary-attack lockout fails with an ``TPMError/isLockout`` error that says when it
    /// recovers; a lost connection is reopened once at once, then the call fails with an
    /// ``TPMError/isUnavailable`` error until a reconnect succeeds.
    public func sign(digest: [UInt8], with handle: PersistentHandle, algorithm: SignatureAlgorithm) throws(TPMError)
        -> [UInt8]
    {
        guard digest.count == 32 else { throw .invalidDigest(count: digest.count) }
        return try withContext { context throws(TPMError) in
            let key = try object(at: handle, in: context)
            do throws(TPMError) {
                return try context.sign(digest: digest, with: key, algorithm: algorithm)
            } catch {
                if error.isConnectionLost { throw error }
                if error.isLockout { throw lockoutError(error, at: handle, in: context) }
                // The key may have been evicted or replaced behind our back: look it up afresh next time.
                forget(handle)
                throw error.isHandleNotFound ? .emptyHandle(handle) : error
            }
        }
    }

    // MARK: - Connection

    /// Runs `body` on the current context, opening one first if the connection broke earlier. When the
    /// connection breaks during `body`, the context is dropped and `body` runs once more on a new one.
    // Not inlined: inlined into `sign`, the 6.3.1 optimizer fails its ownership verification (release builds).
    @inline(never)
    func withContext<T>(_ body: (ESYSContext) throws(TPMError) -> T) throws(TPMError) -> T {
        var retried = false
        while true {
            let context = try connectedContext(force: retried)
            do throws(TPMError) {
                return try body(context)
            } catch where error.isConnectionLost {
                disconnect(cause: error)
                if retried { throw unavailableError() }
                retried = true
            }
        }
    }

    /// The open context, or a new one when the backoff allows (`force`: at once).
    private func connectedContext(force: Bool = false) throws(TPMError) -> ESYSContext {
        if let context { return context }
        if let outage, !force, ContinuousClock.now < outage.notBefore { throw unavailableError() }
        do throws(TPMError) {
            let context = try ESYSContext.connect(tcti: tcti)
            self.context = context
            outage = nil
            return context
        } catch {
            disconnect(cause: error)
            throw unavailableError()
        }
    }

    private func disconnect(cause: TPMError) {
        // The objects belong to the context; finalizing it releases them.
        persistentObjects = [:]
        loadedEndorsementKey = nil
        context = nil
        let attempts = (outage?.attempts ?? 0) + 1
        let doubled = Self.reconnectBackoff.lowerBound * (1 << min(attempts - 1, 10))
        let delay = min(doubled, Self.reconnectBackoff.upperBound)
        outage = (attempts, ContinuousClock.now + delay, cause)
    }

    private func unavailableError() -> TPMError {
        guard let outage else { return .unexpectedResponse("no TPM connection") }
        let wait = max(.zero, outage.notBefore - ContinuousClock.now)
        return .unavailable(tcti: tcti, cause: outage.cause, retryIn: wait)
    }

    private func lockoutError(_ error: TPMError, at handle: PersistentHandle, in context: ESYSContext) -> TPMError {
        let operation = "Esys_Sign (\(handle))"
        let status = try? context.dictionaryAttackStatus()
        let exempt = persistentObjects[handle].flatMap { try? context.readPublic($0).isLockoutExempt } ?? false
        return .lockout(operation, status: status, keyIsExempt: exempt)
    }

    // MARK: - Internals

    /// The key in `area` if it is what provisioning makes: `algorithm`, sign-only, `noDA`.
    private func usableKey(_ area: TPMPublic, at handle: PersistentHandle, algorithm: TPMKeyAlgorithm)
        throws(TPMError) -> AgentPublicKey
    {
        guard area.algorithm == algorithm else {
            throw .occupiedHandle(handle, holds: area.keyDescription, wanted: algorithm.displayName)
        }
        let key = try signingKey(area, at: handle)
        guard area.isLockoutExempt else {
            throw .withoutNoDA(handle, holds: "\(area.keyDescription) (attributes \(area.attributeNames))")
        }
        return key
    }

    private func createPersistentKey(_ algorithm: TPMKeyAlgorithm, at handle: PersistentHandle) throws(TPMError) {
        try withContext { context throws(TPMError) in
            let primary = try context.createPrimaryStorageKey()
            defer { try? context.flush(primary) }
            let child = try context.createSigningKey(algorithm, parent: primary)
            defer { try? context.flush(child) }
            persistentObjects[handle] = try context.makePersistent(child, at: handle)
        }
    }

    private func evict(at handle: PersistentHandle) throws(TPMError) {
        try withContext { context throws(TPMError) in
            let key = try object(at: handle, in: context)
            persistentObjects[handle] = nil
            try context.evict(key, at: handle)
        }
    }

    /// The public area at `handle`, or nil when nothing is stored there.
    func existingPublic(at handle: PersistentHandle) throws(TPMError) -> TPMPublic? {
        if persistentObjects[handle] != nil {
            do throws(TPMError) {
                return try readPublic(at: handle)
            } catch where error.isHandleNotFound {
                // Evicted behind our back since we looked it up; readPublic forgot it, so look again.
            }
        }
        guard try withContext({ context throws(TPMError) in try context.isPersistentHandleOccupied(handle) }) else {
            return nil
        }
        return try readPublic(at: handle)
    }

    private func readPublic(at handle: PersistentHandle) throws(TPMError) -> TPMPublic {
        try withContext { context throws(TPMError) in
            let key = try object(at: handle, in: context)
            do throws(TPMError) {
                return try context.readPublic(key)
            } catch {
                if !error.isConnectionLost { forget(handle) }
                throw error
            }
        }
    }

    private func signingKey(_ area: TPMPublic, at handle: PersistentHandle) throws(TPMError) -> AgentPublicKey {
        guard area.algorithm != nil, let key = area.agentPublicKey else {
            throw .unsupportedKey(handle, area.keyDescription)
        }
        guard area.isSignOnly else {
            throw .notSignOnly(handle, holds: area.keyDescription, attributes: area.attributeNames)
        }
        return key
    }

    func object(at handle: PersistentHandle, in context: ESYSContext) throws(TPMError) -> ESYSContext.Object {
        if let object = persistentObjects[handle] { return object }
        guard try context.isPersistentHandleOccupied(handle) else { throw .emptyHandle(handle) }
        let object = try context.persistentObject(at: handle)
        persistentObjects[handle] = object
        return object
    }

    private func forget(_ handle: PersistentHandle) {
        if let object = persistentObjects.removeValue(forKey: handle) { context?.close(object) }
    }
}
