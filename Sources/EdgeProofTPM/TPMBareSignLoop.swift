import Crypto
import EdgeProofCore

/// For benchmarks only: `Esys_Sign` in a tight loop on the calling thread, through an ESAPI context of
/// its own, with no actor, executor, envelope or allocation of ours in the way. It is the floor that
/// `edgeproof bench agent` holds ``TPMSigner`` and `SignedEnvelope.sign` against; the agent never uses it.
///
/// Not thread-safe and not `Sendable`: one loop, one thread. It blocks for as long as the TPM takes.
public final class TPMBareSignLoop {
    private let context: ESYSContext
    private let key: ESYSContext.Object
    /// ES256 or RS256, from the key's public area.
    public let algorithm: SignatureAlgorithm

    /// Opens its own connection to the TPM and looks up the sign-only key at `handle` (provisioned
    /// already, e.g. by ``TPMDevice/provisionSigningKey(_:at:)``).
    public init(tcti: String, handle: PersistentHandle) throws(TPMError) {
        let context = try ESYSContext.connect(tcti: tcti)
        guard try context.isPersistentHandleOccupied(handle) else { throw .emptyHandle(handle) }
        let key = try context.persistentObject(at: handle)
        let area = try context.readPublic(key)
        guard let algorithm = area.algorithm?.signatureAlgorithm, area.isSignOnly else {
            context.close(key)
            throw .unsupportedKey(handle, area.keyDescription)
        }
        self.context = context
        self.key = key
        self.algorithm = algorithm
    }

    deinit {
        context.close(key)
    }

    /// Signs `digest` `count` times in a row and returns how long that took.
    public func run(count: Int, digest: SHA256.Digest) throws(TPMError) -> Duration {
        let bytes = Array(digest)
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count {
            _ = try context.sign(digest: bytes, with: key, algorithm: algorithm)
        }
        return clock.now - start
    }
}
