import EdgeProofCore

/// A TPM 2.0 reached through a TCTI: swtpm in development and tests, `/dev/tpmrm0` in production.
///
/// One long-lived ESAPI context per device; every call is one or a few TPM commands over it, never a
/// process. Calls run one at a time on the device's own queue, since ESAPI blocks on TPM I/O.
public actor TPMDevice {
    /// The TCTI configuration this device was opened with.
    public nonisolated let tcti: String
    private let executor: TPMExecutor
    private let context: ESYSContext
    /// ESAPI handles of persistent keys already looked up, so a signature costs a single TPM command.
    private var persistentObjects: [PersistentHandle: ESYSContext.Object] = [:]

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

    /// Makes sure `handle` holds a sign-only key of `algorithm` and returns it. Idempotent: a suitable key
    /// already there is returned with `created == false`; any other object there is an error, never
    /// replaced.
    ///
    /// A new key is created under the owner hierarchy's ECC P-256 storage primary key (owner auth empty),
    /// loaded, and made persistent; the transient primary and child are flushed on every path.
    public func provisionSigningKey(_ algorithm: TPMKeyAlgorithm, at handle: PersistentHandle) throws(TPMError)
        -> ProvisionedKey
    {
        if let existing = try existingPublic(at: handle) {
            guard existing.algorithm == algorithm else {
                throw .occupiedHandle(handle, holds: existing.keyDescription, wanted: algorithm.displayName)
            }
            let key = try signingKey(existing, at: handle)
            return ProvisionedKey(publicKey: key, handle: handle, algorithm: algorithm, created: false)
        }
        try createPersistentKey(algorithm, at: handle)
        let key = try signingKey(try readPublic(at: handle), at: handle)
        return ProvisionedKey(publicKey: key, handle: handle, algorithm: algorithm, created: true)
    }

    /// The public key of the sign-only key at `handle`.
    public func publicKey(at handle: PersistentHandle) throws(TPMError) -> AgentPublicKey {
        guard let area = try existingPublic(at: handle) else { throw .emptyHandle(handle) }
        return try signingKey(area, at: handle)
    }

    /// Signs a SHA-256 digest with the key at `handle` and returns the signature in JWS form (ES256: r‖s,
    /// 64 bytes; RS256: PKCS#1 v1.5).
    public func sign(digest: [UInt8], with handle: PersistentHandle, algorithm: SignatureAlgorithm) throws(TPMError)
        -> [UInt8]
    {
        guard digest.count == 32 else { throw .invalidDigest(count: digest.count) }
        let key = try object(at: handle)
        do throws(TPMError) {
            return try context.sign(digest: digest, with: key, algorithm: algorithm)
        } catch {
            // The key may have been evicted or replaced behind our back: look it up afresh next time.
            forget(handle)
            throw error.isHandleNotFound ? .emptyHandle(handle) : error
        }
    }

    // MARK: - Internals

    private func createPersistentKey(_ algorithm: TPMKeyAlgorithm, at handle: PersistentHandle) throws(TPMError) {
        let primary = try context.createPrimaryStorageKey()
        defer { try? context.flush(primary) }
        let child = try context.createSigningKey(algorithm, parent: primary)
        defer { try? context.flush(child) }
        persistentObjects[handle] = try context.makePersistent(child, at: handle)
    }

    /// The public area at `handle`, or nil when nothing is stored there.
    private func existingPublic(at handle: PersistentHandle) throws(TPMError) -> TPMPublic? {
        if persistentObjects[handle] != nil {
            do throws(TPMError) {
                return try readPublic(at: handle)
            } catch where error.isHandleNotFound {
                // Evicted behind our back since we looked it up; readPublic forgot it, so look again.
            }
        }
        guard try context.isPersistentHandleOccupied(handle) else { return nil }
        return try readPublic(at: handle)
    }

    private func readPublic(at handle: PersistentHandle) throws(TPMError) -> TPMPublic {
        let object = try object(at: handle)
        do throws(TPMError) {
            return try context.readPublic(object)
        } catch {
            forget(handle)
            throw error
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

    private func object(at handle: PersistentHandle) throws(TPMError) -> ESYSContext.Object {
        if let object = persistentObjects[handle] { return object }
        guard try context.isPersistentHandleOccupied(handle) else { throw .emptyHandle(handle) }
        let object = try context.persistentObject(at: handle)
        persistentObjects[handle] = object
        return object
    }

    private func forget(_ handle: PersistentHandle) {
        if let object = persistentObjects.removeValue(forKey: handle) { context.close(object) }
    }
}
