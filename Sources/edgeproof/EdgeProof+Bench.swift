import ArgumentParser
import Crypto
import EdgeProofCore
import EdgeProofDemo
import EdgeProofMQTT
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Logging
import _CryptoExtras

extension EdgeProof {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measurements. Each prints a table and, as its last line, one JSON object of figures.",
            subcommands: [Verify.self, Agent.self, Transport.self, EndToEnd.self, Scale.self, Soak.self, Drain.self]
        )
    }
}

extension EdgeProof.Bench {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The collector's verification pipeline against bare signature verification, ES256 and RS256.",
            discussion: """
                Pipeline: the collector's own code (EnvelopeIntake: decode, allowlist lookup, signature, nonce check
                and single-use claim, geographic policy, record encoding; then the group-committed records file with
                fsync on) on envelopes signed beforehand with real nonces, on one core and on all cores. Bare: the same
                library's signature check on a precomputed digest, same key. The breakdown splits the envelope into
                parse only and verify only (SHA-256 of the signing input, then the same signature check). The phases
                run in interleaved rounds (other load on the machine falls on all of them alike); each reports its
                best round. A pipeline round ends with one fsync that nothing overlaps (a few ms): rounds of thousands
                of envelopes keep that tail from standing in for the sustained rate.
                """)

        @Option(help: "Envelopes per algorithm, phase and round.") var count = 8000
        @Option(help: "Interleaved rounds.") var rounds = 5

        func validate() throws {
            guard count > 0, rounds > 0 else { throw ValidationError("--count and --rounds must be positive") }
        }

        func run() async throws {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            var figures = [String: Double]()
            var rows = [[String]]()
            var breakdown = [[String]]()
            for algorithm in SignatureAlgorithm.allCases {
                let pipeline = try await PipelineBenchmark(algorithm: algorithm, envelopes: count)
                let signer = pipeline.signer
                let key = try signer.publicKey
                var envelopes = [Data]()
                for index in 0..<min(count, 200) {
                    let claims = BenchmarkClaims.make(keyHash: signer.publicKeyHash, nonce: "bench-\(index)")
                    envelopes.append(try await SignedEnvelope.sign(claims, with: signer).serialized())
                }
                let parsed = try envelopes.map { try SignedEnvelope(parsing: $0) }
                let digests = parsed.map { SHA256.hash(data: $0.signingInput) }

                var best = [Double](repeating: 0, count: 6)
                var checkOnly = 0.0
                for _ in 0..<rounds {
                    checkOnly = max(checkOnly, try pipeline.checkOnly())
                    best[0] = max(best[0], try await pipeline.round(lanes: 1))
                    best[1] = max(best[1], try await pipeline.round(lanes: cores))
                    // Interleaved with the pipeline rounds, so that load from elsewhere falls on all alike.
                    let phases: [(Int) throws -> Void] = [
                        { index in
                            let envelope = parsed[index % parsed.count]
                            let digest = digests[index % digests.count]
                            guard key.isValidSignature(envelope.signatureBytes, forDigest: digest) else {
                                throw CLIError("benchmark signature did not verify")
                            }
                        },
                        { index in
                            let envelope = try SignedEnvelope(parsing: envelopes[index % envelopes.count])
                            try envelope.verifySignature(with: key)
                        },
                        { index in _ = try SignedEnvelope(parsing: envelopes[index % envelopes.count]) },
                        { index in try parsed[index % parsed.count].verifySignature(with: key) },
                    ]
                    let rates = try phases.map { try measureRate(count, $0) }
                    for (offset, rate) in rates.enumerated() { best[2 + offset] = max(best[2 + offset], rate) }
                }
                let (pipelineRate, allCoresRate, bareRate, envelopeRate, parseRate, verifyRate) =
                    (best[0], best[1], best[2], best[3], best[4], best[5])
                let name = algorithm.rawValue.lowercased()
                figures["verify_per_s_\(name)"] = pipelineRate.rounded()
                figures["verify_per_s_\(name)_all_cores"] = allCoresRate.rounded()
                figures["bare_verify_per_s_\(name)"] = bareRate.rounded()
                figures["verify_ratio_\(name)"] = (pipelineRate / bareRate * 1000).rounded() / 1000
                figures["verify_core_scaling_\(name)"] = (allCoresRate / pipelineRate * 100).rounded() / 100
                figures["envelope_verify_per_s_\(name)"] = envelopeRate.rounded()
                figures["check_only_per_s_\(name)"] = checkOnly.rounded()
                figures["parse_per_s_\(name)"] = parseRate.rounded()
                figures["signature_verify_per_s_\(name)"] = verifyRate.rounded()
                rows.append([
                    algorithm.rawValue, format(pipelineRate), format(allCoresRate), format(bareRate),
                    String(format: "%.2f", pipelineRate / bareRate),
                ])
                breakdown.append(
                    [algorithm.rawValue]
                        + [pipelineRate, checkOnly, envelopeRate, parseRate, verifyRate, bareRate].map { String(format: "%.1f", 1e6 / $0) })
            }
            figures["cores"] = Double(cores)
            print("The collector's pipeline (verify, claim the nonce, encode, group-commit the record), \(count) envelopes per round, best of \(rounds)")
            print(
                TextTable(
                    header: ["ALG", "PIPELINE/S 1 CORE", "PIPELINE/S \(cores) CORES", "BARE VERIFY/S", "RATIO"], rows: rows
                ).rendered)
            print(
                "Breakdown, µs per envelope on one core: pipeline; all checks and the record encoding, no file; parse + verify; "
                    + "parse only; verify only (hash + signature); bare signature")
            print(
                TextTable(header: ["ALG", "PIPELINE", "CHECKS", "PARSE+VERIFY", "PARSE", "VERIFY", "BARE"], rows: breakdown).rendered)
            print(try jsonLine(figures))
        }
    }

    struct Agent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Envelopes signed per second through EdgeProofTPM against bare Esys_Sign; the agent's memory.",
            discussion: """
                For each key type (ECC P-256, RSA-2048) on the same persistent key: Esys_Sign in a loop on one \
                thread (bare), whole envelopes as the agent signs them (on the TPM's executor, as its send loop), \
                and TPMSigner signatures from the cooperative pool (two thread handoffs each), in interleaved \
                rounds; rates are medians over the rounds, and agent_sign_ratio is the median over the rounds of \
                the ES256 envelope rate over the bare rate of the same round. Then the real agent (this \
                executable's agent command) against a TLS broker, collector and passthrough gateway: its VmRSS \
                idle and while sending continuously. Without --tcti it starts a swtpm of its own.
                """)

        @Option(help: "TCTI of the TPM to use, e.g. device:/dev/tpmrm0; default: a swtpm of its own.")
        var tcti: String?
        @Option(help: "Persistent handle for the ECC key (provisioned if empty; the agent signs with it).")
        var eccHandle: PersistentHandle = PersistentHandle("0x81010020")!
        @Option(help: "Persistent handle for the RSA key (provisioned if empty).")
        var rsaHandle: PersistentHandle = PersistentHandle("0x81010021")!
        @Option(help: "Signatures (envelopes) per path per round.") var count = 50
        @Option(help: "Interleaved rounds of the three signing paths.") var rounds = 21
        @Flag(help: "Watch the agent's memory briefly (1 s idle, 2 s sending) instead of 3 s and 8 s.")
        var quick = false

        func validate() throws {
            guard count > 0, rounds > 0 else { throw ValidationError("--count and --rounds must be positive") }
        }

        func run() async throws {
            guard let executable = Bundle.main.executablePath else { throw CLIError("cannot find this executable") }
            let result = try await AgentBenchmark(
                tcti: tcti, eccHandle: eccHandle, rsaHandle: rsaHandle, count: count, rounds: rounds,
                executable: executable, idleSeconds: quick ? 1 : 3, sendingSeconds: quick ? 2 : 8
            ).run()

            var figures = [String: Double]()
            var rows = [[String]]()
            for rates in result.signing {
                let name = rates.algorithm.signatureAlgorithm.rawValue.lowercased()
                figures["bare_sign_per_s_\(name)"] = rates.bare.rounded()
                figures["tpm_sign_per_s_\(name)"] = rates.signer.rounded()
                figures["tpm_envelope_per_s_\(name)"] = rates.envelope.rounded()
                figures[rates.algorithm == .eccP256 ? "agent_sign_ratio" : "agent_sign_ratio_\(name)"] =
                    (rates.ratio * 1000).rounded() / 1000
                rows.append([
                    rates.algorithm.rawValue, format(rates.bare), format(rates.envelope),
                    String(format: "%.3f", rates.ratio), format(rates.signer),
                ])
            }
            let memory = result.memory
            let megabytes = { (value: Double) in (value * 10).rounded() / 10 }
            figures["agent_rss_idle_mb"] = megabytes(memory.idleMegabytes)
            figures["agent_rss_sending_mb"] = megabytes(memory.sendingMegabytes)
            figures["agent_rss_mb"] = megabytes(memory.peakMegabytes)
            figures["agent_sending_accepted"] = Double(memory.sendingAccepted)
            figures["count"] = Double(count)

            let tpm = result.startedSoftwareTPM ? "a swtpm of its own (\(result.tcti))" : result.tcti
            print("Agent signing on \(tpm): \(count) per path per round, medians of \(rounds) interleaved rounds")
            let header = ["KEY", "BARE ESYS_SIGN/S", "ENVELOPES/S", "RATIO", "TPMSIGNER FROM POOL/S"]
            print(TextTable(header: header, rows: rows).rendered)
            print("")
            print("Agent resident memory (VmRSS, real agent process, ECC key, passthrough gateway)")
            print(
                TextTable(
                    header: ["STATE", "MAX RSS MB", "ENVELOPES ACCEPTED"],
                    rows: [
                        ["idle", String(format: "%.1f", memory.idleMegabytes), "\(memory.idleAccepted)"],
                        [
                            "sending", String(format: "%.1f", memory.sendingMegabytes),
                            "\(memory.sendingAccepted) in \(String(format: "%.1f", memory.sendingDuration)) s",
                        ],
                    ]
                ).rendered)
            print(try jsonLine(figures))
        }
    }
}

extension EdgeProof.Bench {
    struct Transport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bare MQTT transport: QoS 1 messages through a local mosquitto with mutual TLS, publisher to subscriber.",
            discussion: """
                Starts its own broker (broker/run-broker.sh) on a free port of 127.0.0.1 in a temporary directory
                and stops it afterwards. The rate is from the first publish to the last message received.
                """)

        @Option(help: "Messages to send.") var count = 20_000
        @Option(help: "Payload size in bytes.") var size = 600
        @Option(help: "Publishing tasks, each awaiting its PUBACKs in turn.") var publishers = 64

        func run() async throws {
            let broker = try MosquittoBroker.start(clients: ["gateway", "collector-1"])
            defer { broker.close() }
            let figures = try await measure(broker)
            print("Bare transport: \(count) QoS 1 messages of \(size) bytes, one publisher client, one subscriber, TLS broker")
            print(TextTable(header: ["MESSAGES", "BYTES", "MSG/S"], rows: [["\(count)", "\(size)", format(figures["transport_per_s"] ?? 0)]]).rendered)
            print(try jsonLine(figures))
        }

        private func measure(_ broker: MosquittoBroker) async throws -> [String: Double] {
            var quiet = Logger(label: "edgeproof.bench")
            quiet.logLevel = .error
            func client(_ identity: String) throws -> MQTTClient {
                try MQTTClient(
                    configuration: MQTTConfiguration(
                        port: Int(broker.port), clientID: "bench-\(identity)", caFile: broker.caFile,
                        certificateFile: broker.certificate(for: identity), keyFile: broker.key(for: identity),
                        cleanStart: true, maximumPendingPublishes: 1000),
                    logger: quiet)
            }
            let subscriber = try client("collector-1")
            let publisher = try client("gateway")
            subscriber.start()
            publisher.start()
            do {
                let figures = try await exchange(from: publisher, to: subscriber)
                await publisher.shutdown()
                await subscriber.shutdown()
                return figures
            } catch {
                await publisher.shutdown()
                await subscriber.shutdown()
                throw error
            }
        }

        private func exchange(from publisher: MQTTClient, to subscriber: MQTTClient) async throws -> [String: Double] {
            try await subscriber.waitUntilConnected(timeout: .seconds(10))
            try await publisher.waitUntilConnected(timeout: .seconds(10))
            try await subscriber.subscribe("edgeproof/v1/verified/+/metrics")

            let message = MQTTMessage(topic: "edgeproof/v1/verified/bench/metrics", payload: Data(repeating: 0x61, count: size))
            let clock = ContinuousClock()
            let start = clock.now
            let (count, publishers) = (count, max(1, publishers))
            async let received: Int = {
                var seen = 0
                for await _ in subscriber.messages {
                    seen += 1
                    if seen == count { break }
                }
                return seen
            }()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<publishers {
                    group.addTask {
                        for _ in stride(from: worker, to: count, by: publishers) { try await publisher.publish(message) }
                    }
                }
                try await group.waitForAll()
            }
            guard await received == count else { throw CLIError("the subscriber did not receive every message") }
            let elapsed = clock.now - start
            return ["transport_per_s": (Double(count) / seconds(elapsed)).rounded(), "count": Double(count), "size_bytes": Double(size)]
        }
    }
}

extension EdgeProof.Bench {
    struct EndToEnd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "e2e",
            abstract: "Envelopes through the whole path: TLS broker, gateway (enforce), collector with durable records.",
            discussion: """
                Simulated agents (software-key load generators, each with its own certificate) fetch real nonces from
                the collector through the gateway and sign their envelopes before the clock starts; then they publish
                and wait for every receipt. Latency is publish to receipt.
                """)

        @Option(help: "Simulated agents.") var agents = 20
        @Option(help: "Envelopes per agent.") var envelopes = 100
        @Option(help: "Envelopes each agent has awaiting a receipt at once.") var inFlight = 8

        func run() async throws {
            let result = try await EndToEndBenchmark(agents: agents, envelopesPerAgent: envelopes, inFlightPerAgent: inFlight).run()
            print("End to end: \(agents) agents x \(envelopes) envelopes of \(result.envelopeBytes) bytes per phase")
            func ms(_ value: Double) -> String { String(format: "%.1f", value) }
            print(
                TextTable(
                    header: ["PHASE", "ENVELOPES/S", "P50 MS", "P99 MS"],
                    rows: [
                        ["saturated (\(inFlight) in flight per agent)", format(result.perSecond), ms(result.saturatedP50Milliseconds),
                         ms(result.saturatedP99Milliseconds)],
                        ["half the maximum rate", format(result.halfRatePerSecond), ms(result.p50Milliseconds), ms(result.p99Milliseconds)],
                        ["bare MQTT, two hops, same size", format(result.transportPerSecond), "", ""],
                    ]
                ).rendered)
            print(
                try jsonLine([
                    "e2e_per_s": result.perSecond.rounded(), "e2e_p50_ms": (result.p50Milliseconds * 10).rounded() / 10,
                    "e2e_p99_ms": (result.p99Milliseconds * 10).rounded() / 10,
                    "e2e_saturated_p99_ms": (result.saturatedP99Milliseconds * 10).rounded() / 10,
                    "e2e_half_rate_per_s": result.halfRatePerSecond.rounded(),
                    "transport_per_s": result.transportPerSecond.rounded(),
                    "e2e_ratio": (result.ratio * 1000).rounded() / 1000, "envelopes": Double(result.envelopes),
                ]))
        }
    }
}

private func measureRate(_ count: Int, _ body: (Int) throws -> Void) throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    for index in 0..<count { try body(index) }
    return Double(count) / seconds(clock.now - start)
}

func format(_ rate: Double) -> String {
    String(format: "%.0f", rate)
}

func jsonLine(_ figures: [String: Double]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(figures), as: UTF8.self)
}
