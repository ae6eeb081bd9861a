import Crypto
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofTPM
import Foundation

/// `edgeproof bench agent`: what the agent costs on top of its TPM, and in memory.
///
/// Signing: for each key type, the bare rate (``TPMBareSignLoop``: `Esys_Sign` in a loop on one thread,
/// its own ESAPI context) against whole envelopes as the agent makes them (claims, `SignedEnvelope.sign`
/// with the ``TPMSigner``, serialization, in a task on the TPM's executor like the agent's send loop),
/// and, for the cost of the thread handoffs, ``TPMSigner`` signatures from a task on the cooperative pool;
/// all on the same persistent key, in interleaved rounds; rates and their ratio are medians over the rounds.
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
        tcti: String?, eccHandle: PersistentHandle, rsaHandle: PersistentHandle, count: Int = 50, rounds: Int = 21,
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

    /// Per key type, in signatures (envelopes) per second, each the median of its rounds.
    public struct SigningRates: Sendable {
        public var algorithm: TPMKeyAlgorithm
        public var bare: Double
        /// ``TPMSigner`` signatures from the cooperative pool.
        public var signer: Double
        public var envelope: Double
        /// Envelope rate over bare rate: the median of each round's ratio.
        public var ratio: Double
    }

    public struct Result: Sendable {
        /// The TCTI measured: the given one, or that of the swtpm the benchmark started.
        public var tcti: String
        public var startedSoftwareTPM: Bool
        public var signing: [SigningRates]
        public var memory: MemoryFigures
    }

    public func run() async throws -> Result {
        let softwareTPM = await tcti == nil ? try await SoftwareTPM.start() : nil
        defer { softwareTPM?.stop() }
        guard let tcti = tcti ?? softwareTPM?.tcti else { throw BenchmarkError("no TPM") }

        let device = try TPMDevice(tcti: tcti)
        var signing: [SigningRates] = []
        var agentKey: AgentPublicKey?
        for (algorithm, handle) in [(TPMKeyAlgorithm.eccP256, eccHandle), (.rsa2048, rsaHandle)] {
            let key = try await device.provisionSigningKey(algorithm, at: handle)
            if algorithm == .eccP256 { agentKey = key.publicKey }
            signing.append(try await signingRates(algorithm, at: handle, device: device, tcti: tcti))
        }
        guard let agentKey else { throw BenchmarkError("no ECC key for the agent") }
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
        // A typical batch (one system sample), sampled before the clock starts, as the agent's are.
        let batch = BenchmarkClaims.make(keyHash: signer.publicKeyHash, nonce: Self.nonce(0))

        func envelopes(_ count: Int) async throws -> Duration {
            // Where the agent's send loop runs: where the signer signs cheapest (the TPM's thread).
            try await signer.signingLoop {
                let clock = ContinuousClock()
                let start = clock.now
                for index in 0..<count {
                    // As the agent signs a spooled batch (Agent.sign): its claims with a fresh nonce and
                    // timestamp, the envelope, its MQTT payload.
                    var claims = batch
                    claims.nonce = Self.nonce(index)
                    claims.timestamp = Timestamp.string(from: Date())
                    _ = try await SignedEnvelope.sign(claims, with: signer).serialized()
                }
                return clock.now - start
            }
        }
        // A caller on the cooperative pool, without the executor preference: two thread handoffs each.
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

        // Each round times the bare loop and the envelopes back to back, in alternating order, then the
        // signer; the ratio is the median of the rounds' own ratios, so that drift and bursts of load on
        // this (shared) machine fall on both sides of a ratio alike.
        var bareRates: [Double] = []
        var envelopeRates: [Double] = []
        var signerRates: [Double] = []
        for round in 0..<max(1, rounds) {
            let bareFirst = round.isMultiple(of: 2)
            if bareFirst { bareRates.append(Self.rate(count, try bare.run(count: count, digest: digest))) }
            envelopeRates.append(Self.rate(count, try await envelopes(count)))
            if !bareFirst { bareRates.append(Self.rate(count, try bare.run(count: count, digest: digest))) }
            signerRates.append(Self.rate(count, try await signatures(count)))
        }
        return SigningRates(
            algorithm: algorithm, bare: Self.median(bareRates), signer: Self.median(signerRates),
            envelope: Self.median(envelopeRates), ratio: Self.median(zip(envelopeRates, bareRates).map { $0 / $1 }))
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
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
