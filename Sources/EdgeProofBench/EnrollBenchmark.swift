import EdgeProofAgent
import EdgeProofAttestation
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofRegistrar
import EdgeProofTPM
import Foundation

/// `edgeproof bench enroll`: the registrar's checks (``EnrollmentVerifier`` begin + finish) on complete
/// enrollments prepared beforehand with a real swtpm (EK certificates from a local manufacturer CA), against the
/// bare cryptography those checks cannot avoid (EK chain check, MakeCredential, the certify's and the quote's AK
/// signatures) on the same inputs, in interleaved rounds on one task; rates and their ratio are medians over the
/// rounds. The TPM is not timed, nor is the enrollment book (fsync-bound: `bench attest` measures it).
public struct EnrollBenchmark: Sendable {
    /// Enrollments prepared (each a begin request and its finish) and verified per phase and round.
    public var enrollments: Int
    public var rounds: Int

    public init(enrollments: Int = 200, rounds: Int = 7) {
        self.enrollments = enrollments
        self.rounds = rounds
    }

    public struct Result: Sendable {
        public var enrollments: Int
        public var rounds: Int
        /// Registrar enrollments verified per second on one task (begin + finish), median of the rounds.
        public var enrollPerSecond: Double
        /// Bare cryptography per enrollment per second, median of the rounds.
        public var bareCryptoPerSecond: Double
        /// Median of each round's enroll / bare ratio.
        public var ratio: Double
        /// Microseconds per enrollment of each step timed alone (medians), by step name, in ``Step`` order.
        public var breakdown: [(step: Step, microseconds: Double)]
        /// Seconds the TPM took to prepare all enrollments (untimed part, for information).
        public var preparationSeconds: Double
    }

    /// The steps timed alone for the breakdown.
    public enum Step: String, Sendable, CaseIterable {
        case begin = "registrar begin"
        case finish = "registrar finish"
        case chain = "EK chain check"
        case makeCredential = "MakeCredential"
        case certifySignature = "certify signature"
        case quoteSignature = "quote signature"
        case certificateParse = "EK certificate parse"
    }

    public static let targetPerSecond = 200.0
    public static let targetRatio = 0.5

    public func run() async throws -> Result {
        let fixture = try await Fixture.prepare(enrollments: enrollments)
        defer { fixture.stop() }
        var enrollRates = [Double]()
        var bareRates = [Double]()
        var ratios = [Double]()
        var stepTimes = [Step: [Double]]()
        for _ in 0..<rounds {
            // Interleaved, so that load from elsewhere on the machine falls on both alike.
            let enroll = try await fixture.enrollRate()
            let bare = try await fixture.bareCryptoRate()
            enrollRates.append(enroll)
            bareRates.append(bare)
            ratios.append(enroll / bare)
            for (step, microseconds) in try await fixture.breakdown() {
                stepTimes[step, default: []].append(microseconds)
            }
        }
        return Result(
            enrollments: enrollments, rounds: rounds, enrollPerSecond: Self.median(enrollRates),
            bareCryptoPerSecond: Self.median(bareRates), ratio: Self.median(ratios),
            breakdown: Step.allCases.map { ($0, Self.median(stepTimes[$0] ?? [])) },
            preparationSeconds: fixture.preparationSeconds)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

extension EnrollBenchmark {
    /// One swtpm's enrollments, prepared end to end, and what the bare phase needs parsed beforehand.
    struct Fixture {
        static let agent = "bench-enroll"

        let tpm: SoftwareTPM
        let directory: TemporaryDirectory
        let trustStore: EKCertificateVerifier
        let tokenKeys: NonceKeyring
        let begin: EnrollmentBegin
        let finishes: [EnrollmentFinish]
        let preparationSeconds: Double

        // Parsed once for the bare phase: the inputs the registrar's checks take, as bytes and keys.
        let ekCertificate: EKCertificate
        let ekCertificateBytes: Data
        let credentialMaker: CredentialMaker
        let akPublic: TPMPublic
        let certifies: [(attest: Data, signature: TPMSignature)]
        let quotes: [(attest: Data, signature: TPMSignature)]

        static func prepare(enrollments: Int) async throws -> Fixture {
            let clock = ContinuousClock()
            let start = clock.now
            let tpm = try await SoftwareTPM.start(endorsementCertificates: true)
            do {
                let directory = try TemporaryDirectory(prefix: "edgeproof-bench-enroll")
                guard let manufacturer = tpm.manufacturer else { throw BenchmarkError("swtpm has no manufacturer CA") }
                let store = directory.appending("trust")
                try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
                try FileManager.default.copyItem(
                    at: manufacturer.rootCertificate, to: store.appending(path: "root.pem"))
                try FileManager.default.copyItem(
                    at: manufacturer.issuerCertificate, to: store.appending(path: "issuer.pem"))
                // As the registrar loads it: once, at start.
                let trustStore = try EKCertificateVerifier(trustStoreDirectory: store)
                let tokenKeys = try NonceKeyring(current: .random(id: 1))

                let device = try TPMDevice(tcti: tpm.tcti)
                let signingHandle = PersistentHandle.defaultSigningKey
                let attestationHandle = EnrollmentSettings.defaultAttestationKeyHandle
                _ = try await device.provisionSigningKey(.eccP256, at: signingHandle)
                _ = try await device.provisionAttestationKey(at: attestationHandle)
                let agent = AgentEnrollment(
                    agent: Self.agent, device: device, signingKey: signingHandle, attestationKey: attestationHandle,
                    requestedPlaces: [AllowedPlace(region: "US", state: "California")])
                // One TPM: every begin request would be the same bytes, so one serves all enrollments.
                let begin = try await agent.begin()
                let ekHash = try await agent.ekPublicHash()
                let verifier = Self.verifier(trustStore: trustStore, tokenKeys: tokenKeys)
                var finishes = [EnrollmentFinish]()
                for _ in 0..<enrollments {
                    let challenge: EnrollmentChallenge
                    do {
                        challenge = try await verifier.begin(begin, now: Date()).challenge
                    } catch {
                        throw BenchmarkError("the registrar refused the bench's begin: \(error)")
                    }
                    finishes.append(try await agent.finish(challenge, ekPublicHash: ekHash))
                }

                guard let encodedCertificate = begin.ekCertificate,
                    let certificateBytes = Data(base64Encoded: encodedCertificate),
                    let akBytes = Data(base64Encoded: begin.akPublic)
                else { throw BenchmarkError("the swtpm's begin request has no EK certificate") }
                let ekCertificate = try EKCertificate(nvContents: certificateBytes)
                let akPublic = try TPMPublic(tpm2bPublic: akBytes)
                func evidence(_ signed: EnrollmentFinish.Evidence) throws -> (Data, TPMSignature) {
                    guard let attest = Data(base64Encoded: signed.attest),
                        let signature = Data(base64Encoded: signed.signature)
                    else { throw BenchmarkError("the agent's evidence is not base64") }
                    return (attest, try TPMSignature(signature))
                }
                return Fixture(
                    tpm: tpm, directory: directory, trustStore: trustStore, tokenKeys: tokenKeys, begin: begin,
                    finishes: finishes, preparationSeconds: seconds(clock.now - start), ekCertificate: ekCertificate,
                    ekCertificateBytes: certificateBytes,
                    credentialMaker: CredentialMaker(
                        endorsementKey: try .init(subjectPublicKeyInfo: ekCertificate.subjectPublicKeyInfo)),
                    akPublic: akPublic, certifies: try finishes.map { try evidence($0.certify) },
                    quotes: try finishes.map { try evidence($0.quote) })
            } catch {
                tpm.stop()
                throw error
            }
        }

        func stop() {
            tpm.stop()
            directory.remove()
        }

        /// A registrar's verifier over this trust store and token keys; a new one has no used tokens, so every
        /// prepared finish verifies once more. No platform policy (the registrar's default allowlist has none).
        static func verifier(trustStore: EKCertificateVerifier, tokenKeys: NonceKeyring) -> EnrollmentVerifier {
            // Tokens outlive the whole run: preparing hundreds of enrollments on swtpm takes tens of seconds.
            EnrollmentVerifier(
                trustStore: trustStore, allowPinningFallback: false, tokenKeys: tokenKeys, tokenLifetime: 24 * 3600)
        }

        /// Enrollments verified per second: for each prepared pair, the registrar's begin (a fresh challenge,
        /// discarded) and its finish, as one registrar task handles them.
        func enrollRate() async throws -> Double {
            let verifier = Self.verifier(trustStore: trustStore, tokenKeys: tokenKeys)
            return try await measureRateAsync(finishes.count) { index in
                let now = Date()
                _ = try await Self.expect { try await verifier.begin(begin, now: now) }
                let verified = try await Self.expect { try verifier.finish(finishes[index], platform: nil, now: now) }
                guard verified.trust.level == .tpmEKCert else {
                    throw BenchmarkError("an enrollment verified at \(verified.trust.level), not tpm-ek-cert")
                }
            }
        }

        /// The cryptography the checks cannot do without, per enrollment, on the same inputs.
        func bareCryptoRate() async throws -> Double {
            let secret = Data(repeating: 7, count: 32)
            let akName = akPublic.name
            return try await measureRateAsync(finishes.count) { index in
                try await trustStore.verify(ekCertificate)
                _ = try credentialMaker.makeCredential(objectName: akName, secret: secret)
                try akPublic.verify(certifies[index].signature, over: certifies[index].attest)
                try akPublic.verify(quotes[index].signature, over: quotes[index].attest)
            }
        }

        /// Each step alone, in µs per enrollment, for the breakdown.
        func breakdown() async throws -> [(Step, Double)] {
            let count = finishes.count
            let secret = Data(repeating: 7, count: 32)
            let akName = akPublic.name
            var result = [(Step, Double)]()
            let beginVerifier = Self.verifier(trustStore: trustStore, tokenKeys: tokenKeys)
            result.append((.begin, 1e6 / (try await measureRateAsync(count) { _ in
                _ = try await Self.expect { try await beginVerifier.begin(begin, now: Date()) }
            })))
            let finishVerifier = Self.verifier(trustStore: trustStore, tokenKeys: tokenKeys)
            result.append((.finish, 1e6 / (try await measureRateAsync(count) { index in
                _ = try await Self.expect { try finishVerifier.finish(finishes[index], platform: nil, now: Date()) }
            })))
            result.append((.chain, 1e6 / (try await measureRateAsync(count) { _ in
                try await trustStore.verify(ekCertificate)
            })))
            result.append((.makeCredential, 1e6 / (try await measureRateAsync(count) { _ in
                _ = try credentialMaker.makeCredential(objectName: akName, secret: secret)
            })))
            result.append((.certifySignature, 1e6 / (try await measureRateAsync(count) { index in
                try akPublic.verify(certifies[index].signature, over: certifies[index].attest)
            })))
            result.append((.quoteSignature, 1e6 / (try await measureRateAsync(count) { index in
                try akPublic.verify(quotes[index].signature, over: quotes[index].attest)
            })))
            result.append((.certificateParse, 1e6 / (try await measureRateAsync(count) { _ in
                _ = try EKCertificate(nvContents: ekCertificateBytes)
            })))
            return result
        }

        /// A refusal in the bench is a broken set-up, not a figure: it stops the run with the registrar's reason.
        static func expect<T>(_ body: () async throws -> T) async throws -> T {
            do {
                return try await body()
            } catch {
                throw BenchmarkError("the registrar refused a prepared enrollment: \(error)")
            }
        }
    }
}

/// Runs `body` for indices `0..<count` on the calling task and returns calls per second.
func measureRateAsync(_ count: Int, _ body: (Int) async throws -> Void) async throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    for index in 0..<count { try await body(index) }
    return Double(count) / seconds(clock.now - start)
}
