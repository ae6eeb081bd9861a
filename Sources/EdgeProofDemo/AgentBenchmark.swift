import Crypto
import EdgeProofCore
import EdgeProofTPM
import EdgeProofTesting
import Foundation

/// `edgeproof bench agent`: what the agent costs on top of its TPM, and in memory.
///
/// Signing: for each key type, the bare rate (``TPMBareSignLoop``: `Esys_Sign` in a loop on one thread,
/// its own ESAPI context) against signatures through ``TPMSigner`` (the ``TPMDevice`` actor) and whole
/// envelopes as the agent makes them (claims, `SignedEnvelope.sign` with the ``TPMSigner``, serialization),
/// all on the same persistent key, in interleaved rounds; each rate is the best of its rounds.
///
/// Memory: the real agent (`edgeproof agent --config FILE`, a child process) against a TLS broker, a
/// collector and a passthrough gateway, its VmRSS idle and while sending continuously (see
/// `AgentBenchmark+Memory.swift`).
///
/// Without a TCTI it starts a swtpm of its own and stops it afterwards.
public struct AgentBenchmark: Sendable {
    /// The TPM to use; nil: a fresh swtpm.
    public var tcti: String?
    public var eccHandle: PersistentHandle
    public var rsaHandle: PersistentHandle
    /// Signatures (or envelopes) per path per round.
    public var count: Int
    public var rounds: Int
    /// The `edgeproof` executable whose `agent` command is measured.
    public var executable: String
    /// How long the idle agent is watched after it settled, and how long the sending one sends.
    public var idleSeconds: Double
    public var sendingSeconds: Double
    /// `sample_interval_s` of the sending agent.
    public var sendingInterval: Double

    public init(
        tcti: String?, eccHandle: PersistentHandle, rsaHandle: PersistentHandle, count: Int = 200, rounds: Int = 5,
        executable: String, idleSeconds: Double = 3, sendingSeconds: Double = 8, sendingInterval: Double = 0.01
    ) {
        self.tcti = tcti
        self.eccHandle = eccHandle
        self.rsaHandle = rsaHandle
        self.count = count
        self.rounds = rounds
        self.executable = executable
        self.idleSeconds = idleSeconds
        self.sendingSeconds = sendingSeconds
        self.sendingInterval = sendingInterval
    }

    /// Per key type, in signatures (envelopes) per second, each the best of its rounds.
    public struct SigningRates: Sendable {
        public var algorithm: TPMKeyAlgorithm
        public var bare: Double
        public var signer: Double
        public var envelope: Double
        /// Envelope rate over bare rate.
        public var ratio: Double { envelope / bare }
    }

    public struct Result: Sendable {
        /// The TCTI measured: the given one, or that of the swtpm the benchmark started.
        public var tcti: String
        public var startedSoftwareTPM: Bool
        public var signing: [SigningRates]
        public var memory: MemoryFigures
    }

    public func run() async throws -> Result {
        let softwareTPM = tcti == nil ? try SoftwareTPM.start() : nil
        defer { softwareTPM?.stop() }
        guard let tcti = tcti ?? softwareTPM?.tcti else { throw DemoError("no TPM") }

        let device = try TPMDevice(tcti: tcti)
        var signing: [SigningRates] = []
        var agentKey: AgentPublicKey?
        for (algorithm, handle) in [(TPMKeyAlgorithm.eccP256, eccHandle), (.rsa2048, rsaHandle)] {
            let key = try await device.provisionSigningKey(algorithm, at: handle)
            if algorithm == .eccP256 { agentKey = key.publicKey }
            signing.append(try await signingRates(algorithm, at: handle, device: device, tcti: tcti))
        }
        guard let agentKey else { throw DemoError("no ECC key for the agent") }
        let memory = try await measureMemory(tcti: tcti, handle: eccHandle, key: agentKey)
        return Result(tcti: tcti, startedSoftwareTPM: softwareTPM != nil, signing: signing, memory: memory)
    }

    /// Bare, signer and envelope rates on the key at `handle`, in `rounds` interleaved rounds.
    private func signingRates(
        _ algorithm: TPMKeyAlgorithm, at handle: PersistentHandle, device: TPMDevice, tcti: String
    ) async throws -> SigningRates {
        let bare = try TPMBareSignLoop(tcti: tcti, handle: handle)
        let signer = try await TPMSigner(device: device, handle: handle)
        let digest = SHA256.hash(data: Data("edgeproof benchmark".utf8))
        let count = max(1, count)

        func envelopes(_ count: Int) async throws -> Duration {
            let clock = ContinuousClock()
            let start = clock.now
            for index in 0..<count {
                // As the agent signs: fresh claims (timestamp, nonce), the envelope, its MQTT payload.
                let claims = BenchmarkClaims.make(keyHash: signer.publicKeyHash, nonce: Self.nonce(index))
                _ = try await SignedEnvelope.sign(claims, with: signer).serialized()
            }
            return clock.now - start
        }
        func signatures(_ count: Int) async throws -> Duration {
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<count { _ = try await signer.signature(forDigest: digest) }
            return clock.now - start
        }

        // Warm-up: connections, caches, the first use of each code path.
        let warmUp = min(count, 20)
        _ = try bare.run(count: warmUp, digest: digest)
        _ = try await signatures(warmUp)
        _ = try await envelopes(warmUp)

        // Rounds alternate the order of the paths, so that none always runs right after another one.
        var best = (bare: 0.0, signer: 0.0, envelope: 0.0)
        for round in 0..<max(1, rounds) {
            for path in round.isMultiple(of: 2) ? [0, 1, 2] : [2, 1, 0] {
                switch path {
                case 0: best.bare = max(best.bare, Self.rate(count, try bare.run(count: count, digest: digest)))
                case 1: best.signer = max(best.signer, Self.rate(count, try await signatures(count)))
                default: best.envelope = max(best.envelope, Self.rate(count, try await envelopes(count)))
                }
            }
        }
        return SigningRates(algorithm: algorithm, bare: best.bare, signer: best.signer, envelope: best.envelope)
    }

    /// As long as a collector's nonce (about 80 base64url characters), different every time.
    private static func nonce(_ index: Int) -> String {
        let digits = String(index)
        return String(repeating: "n", count: 80 - digits.count) + digits
    }

    private static func rate(_ count: Int, _ elapsed: Duration) -> Double {
        Double(count) / seconds(elapsed)
    }
}
