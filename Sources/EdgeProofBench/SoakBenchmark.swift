import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofMQTT
import EdgeProofOperations
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Logging


/// `edgeproof bench soak`: sustained load through the whole path for a given time, with the resident
/// memory of every component sampled as it goes, so that memory that grows with the envelopes handled
/// (a leak, a cache that is never pruned) shows as a slope once the warm-up is over.
///
/// mosquitto (TLS, ACL), `edgeproof gateway` (enforce) and `edgeproof collector` are processes of
/// their own, on 127.0.0.1 only. The load is one of:
/// - ``Load/agent`` (the default of the command): the real `edgeproof agent`, a process too, signing
///   with a swtpm of its own (ECC P-256). The agent is one of the components whose memory must stay
///   flat, and its path (a nonce request per envelope, the spool, receipts) is the one production
///   runs. Its rate is set by `sample_interval_s` = 1 / `rate`, so it reaches about 90 % of that (the
///   sampling takes time too) while the path keeps up; beyond what the path takes, its spool (and
///   memory) grows with the backlog, as it should.
/// - ``Load/softwareKeys(senders:lanes:)``: simulated agents in this process signing with
///   ``SoftwareBenchmarkSigner`` (bench-only keys), each with `lanes` envelopes under way (a fresh
///   nonce, sign, publish, receipt), paced to `rate`. A closed loop: however slow the machine, no
///   backlog builds up anywhere, so only the services' own memory can grow. The test suite uses it.
///
/// VmRSS of each process is read from /proc/PID/status every `sampleEvery`. After the run, the growth
/// of each component is the least-squares slope of its samples taken after `warmUp` (by then the
/// collector's replay cache is full: the warm-up must exceed the nonce lifetime).
public struct SoakBenchmark: Sendable {
    public var duration: Double
    /// Envelopes per second the agent aims at.
    public var rate: Double
    public var warmUp: Double
    public var sampleEvery: Double
    /// `nonce_lifetime_s` of the collector: how long its replay cache keeps a nonce.
    public var nonceLifetime: Int
    /// The `edgeproof` executable whose agent, gateway and collector commands run.
    public var executable: String
    public var load: Load
    /// With the agent's load: the agent signs the fix of a gpsd (gpsfake replaying a Santa Clara track), and
    /// gateway and collector check it against a 1,000-vertex fence and GNSS location requirements.
    public var gnss = false
    /// With the agent's load: the agent is at an edge site, on a site broker (`--profile site`), and the
    /// gateway is the site's bridge (`upstream:` = the central broker, durable queues), sampled as
    /// `gateway`; the site broker as `site_mosquitto`.
    public var site = false
    /// Every service serves `/metrics` (the agent too), scraped every second through the soak, as a
    /// Prometheus server would.
    public var operations = false
    /// Hears a line per sample.
    public var progress: @Sendable (String) -> Void

    public enum Load: Sendable {
        case agent
        case softwareKeys(senders: Int, lanes: Int)
    }

    public init(
        duration: Double, rate: Double, warmUp: Double, sampleEvery: Double, nonceLifetime: Int, executable: String,
        load: Load = .agent, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.load = load
        self.duration = duration
        self.rate = rate
        self.warmUp = warmUp
        self.sampleEvery = sampleEvery
        self.nonceLifetime = nonceLifetime
        self.executable = executable
        self.progress = progress
    }

    /// The processes sampled, in the order they are printed: `load_generator` is this process, with
    /// software-key load.
    public static let components = [
        "collector", "gateway", "agent", "mosquitto", "site_mosquitto", "swtpm", "load_generator",
    ]
    static let bridgeName = "bridge-site"
    var gatewayName: String { isSite ? Self.bridgeName : "gateway" }
    var isSite: Bool {
        if site, case .agent = load { return true }
        return false
    }

    /// One component's resident memory over the run.
    public struct Growth: Sendable {
        /// MiB at the first and last sample after the warm-up.
        public var startMegabytes: Double
        public var endMegabytes: Double
        public var peakMegabytes: Double
        /// Least-squares slope of the samples after the warm-up.
        public var megabytesPerMinute: Double
        /// The same slope per 10,000 envelopes stored at the rate reached after the warm-up.
        public var megabytesPer10kEnvelopes: Double
    }

    public struct Result: Sendable {
        public var growth: [String: Growth]
        /// Records in the collector's files, and how many distinct nonces they hold.
        public var stored: Int
        public var distinctNonces: Int
        /// Envelopes published and receipted, by the agent's own counters (or the load generators').
        public var published: Int
        public var accepted: Int
        public var seconds: Double
        /// Envelopes stored per second after the warm-up.
        public var storedPerSecond: Double
    }

    struct Sample {
        var time: Double
        /// The collector's `accepted` counter as last published (every 10 s).
        var stored: Int
        var megabytes: [String: Double]
    }

    static let agentName = "soak-agent"

    public func run() async throws -> Result {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-soak")
        defer { work.remove() }
        var allowlist = Allowlist()
        var places = [AllowedPlace(region: "US", state: "California")]
        let now = Timestamp.string(from: Date())
        var receiver: GPSFake?
        defer { receiver?.stop() }
        if gnss, case .agent = load {
            let fence = try FenceBenchmark.jaggedFence(vertices: 1000)
            try JSONEncoder().encode(fence.geoJSON).write(to: work.appending("fence.geojson"))
            places = [AllowedPlace(region: "US", state: "California", city: "Santa Clara", fenceFile: "fence.geojson")]
            // A track as long as the run: gpsd keeps the last fix after it, which then goes stale.
            let fixes = NMEALog.track(from: Date(), count: Int(duration) + 300) { _, time in
                NMEALog.Fix(time: time, latitude: 37.3541, longitude: -121.9552)
            }
            receiver = try GPSFake.start(replaying: fixes, name: "soak", in: work.url)
        }

        // The load's identities and keys: the agent's in a swtpm of its own, or software keys.
        let tpm: SoftwareTPM?
        if case .agent = load { tpm = try await SoftwareTPM.start() } else { tpm = nil }
        defer { tpm?.stop() }
        let handle = try PersistentHandle(0x8102_0030)
        var signers: [(name: String, signer: SoftwareBenchmarkSigner)] = []
        if let tpm {
            let key = try await TPMDevice(tcti: tpm.tcti).provisionSigningKey(.eccP256, at: handle)
            var entry = AllowlistEntry(name: Self.agentName, key: key.publicKey, createdAt: now, allowedPlaces: places)
            if receiver != nil {
                entry.locationRequirements = LocationRequirement(
                    minimumSource: .gnss, maximumAccuracyMeters: 50, maximumFixAgeSeconds: 30,
                    approvedSensors: [SensorPattern(driver: "NMEA0183")])
            }
            try allowlist.add(entry)
        } else if case .softwareKeys(let senders, _) = load {
            for index in 0..<max(1, senders) {
                let name = String(format: "load-%03d", index)
                let signer = try SoftwareBenchmarkSigner(.es256)
                signers.append((name, signer))
                try allowlist.add(
                    AllowlistEntry(name: name, key: try signer.publicKey, createdAt: now, allowedPlaces: places))
            }
        }

        let broker = try await MosquittoBroker.start(
            clients: ["gateway", "collector-1", "monitor", Self.bridgeName] + allowlist.entries.map(\.name),
            directory: TemporaryDirectory(at: work.appending("broker")))
        defer { broker.stop() }
        let siteBroker: MosquittoBroker? =
            isSite
            ? try await MosquittoBroker.start(
                clients: [Self.agentName, Self.bridgeName, "monitor"], directory: TemporaryDirectory(at: work.appending("site")),
                profile: .site) : nil
        defer { siteBroker?.stop() }
        // The agent's broker: the site's, at a site.
        let agentBroker = siteBroker ?? broker
        var logger = Logger(label: "edgeproof.bench")
        logger.logLevel = .critical

        let allowlistPath = work.appending("allowlist.yaml").path
        try AllowlistFile(path: allowlistPath).save(allowlist)
        let nonceKeys = work.appending("nonce.keys")
        try NonceKeyFile.generate(at: nonceKeys)
        // Ports for the operations endpoints, chosen here so that the scraper knows them.
        let metricsPorts = operations ? try FreePort.next(count: 3) : []
        func metrics(_ index: Int) -> String {
            metricsPorts.indices.contains(index) ? "metrics: {listen: \"127.0.0.1:\(metricsPorts[index])\"}" : ""
        }
        var configurations = [
            "collector": """
                id: collector-1
                \(broker.configurationSection(for: "collector-1"))
                allowlist_file: \(allowlistPath)
                nonce_key_file: \(nonceKeys.path)
                nonce_lifetime_s: \(nonceLifetime)
                records:
                  directory: \(work.appending("records").path)
                log_level: warning
                \(metrics(0))
                \(operations ? "otlp: {directory: \(work.appending("otlp").path)}" : "")
                """,
            "gateway": siteBroker.map { site in
                """
                id: \(Self.bridgeName)
                mode: enforce
                \(site.configurationSection(for: Self.bridgeName))
                \(broker.configurationSection(for: Self.bridgeName, section: "upstream"))
                relay:
                  directory: \(work.appending("relay").path)
                allowlist_file: \(allowlistPath)
                log_level: warning
                \(metrics(1))
                """
            }
                ?? """
                id: gateway
                mode: enforce
                \(broker.configurationSection(for: "gateway"))
                allowlist_file: \(allowlistPath)
                log_level: warning
                \(metrics(1))
                """,
        ]
        if let tpm {
            configurations["agent"] = """
                name: \(Self.agentName)
                \(agentBroker.configurationSection(for: Self.agentName))
                tpm:
                  tcti: "\(tpm.tcti)"
                  handle: "\(handle)"
                \(receiver.map { "location: {place: US/California/Santa Clara, source: gpsd, gpsd: \"\($0.address)\"}" } ?? "location: \"US/California/Santa Clara\"")
                sample_interval_s: \(1 / rate)
                spool:
                  directory: \(work.appending("spool").path)
                log_level: warning
                \(metrics(2))
                """
        }
        for (name, text) in configurations {
            try Data(text.utf8).write(to: work.appending("\(name).yaml"))
        }

        let scraper = Task {
            let addresses = metricsPorts.map { "127.0.0.1:\($0)" }
            while !Task.isCancelled && !addresses.isEmpty {
                for address in addresses { _ = try? await LocalHTTP.send(to: address, path: "/metrics") }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        defer { scraper.cancel() }
        let (monitor, statuses) = try await broker.statusMonitor(logger: logger)
        // The agent's status stays at its site.
        let siteMonitor = try await siteBroker?.statusMonitor(logger: logger)
        do {
            let swtpmPID = tpm?.processIdentifier
            let result = try await soak(
                work: work, broker: broker, siteBroker: siteBroker, statuses: statuses,
                agentStatuses: siteMonitor?.statuses ?? statuses, swtpmPID: swtpmPID, signers: signers, logger: logger)
            await monitor.shutdown()
            await siteMonitor?.client.shutdown()
            return result
        } catch {
            await monitor.shutdown()
            await siteMonitor?.client.shutdown()
            throw error
        }
    }

    /// Starts the services and the load, samples them for ``duration``, stops them and sums up.
    private func soak(
        work: TemporaryDirectory, broker: MosquittoBroker, siteBroker: MosquittoBroker?, statuses: StatusWatcher,
        agentStatuses: StatusWatcher, swtpmPID: Int32?, signers: [(name: String, signer: SoftwareBenchmarkSigner)],
        logger: Logger
    ) async throws -> Result {
        let logs = work.appending("logs")
        func start(_ name: String) throws -> ComponentProcess {
            try ComponentProcess.start(
                name, arguments: [name, "--config", work.appending("\(name).yaml").path], logDirectory: logs,
                executable: executable)
        }
        let collector = try start("collector")
        defer { collector.stop() }
        let gateway = try start("gateway")
        defer { gateway.stop() }
        var services = [collector, gateway]
        func diagnostics() -> String { services.map { $0.diagnostics(lines: 15) }.joined(separator: "\n") }
        do {
            try await statuses.waitForOnline("collector/collector-1")
            try await statuses.waitForOnline("gateway/\(gatewayName)")
        } catch {
            throw BenchmarkError("\(error)\n\(diagnostics())")
        }

        var pids: [String: @Sendable () -> Int32?] = [
            "collector": { collector.pid }, "gateway": { gateway.pid }, "mosquitto": { broker.pid },
        ]
        if let siteBroker { pids["site_mosquitto"] = { siteBroker.pid } }
        // The collector's own count, republished in its status every 10 s.
        func stored() -> Int { statuses.latest("collector/collector-1")?.counters?["accepted"] ?? 0 }
        let clock = ContinuousClock()
        let samples: [Sample]
        let published: Int
        let accepted: Int
        switch load {
        case .agent:
            let agent = try start("agent")
            defer { agent.stop() }
            services.append(agent)
            pids["agent"] = { agent.pid }
            pids["swtpm"] = { swtpmPID }
            samples = try await sample(pids, from: clock.now, stored: stored, diagnostics: diagnostics)
            // The agent first, so that what it sent is settled, then the services.
            let stopped = Date()
            guard agent.stop() else { throw BenchmarkError("the agent ignored SIGTERM\n\(agent.diagnostics())") }
            try? await agentStatuses.waitForOffline("agent/\(Self.agentName)", after: stopped)
            let counters = agentStatuses.latest("agent/\(Self.agentName)")?.counters ?? [:]
            (published, accepted) = (counters["published"] ?? 0, counters["accepted"] ?? 0)
        case .softwareKeys(_, let lanes):
            var generators: [LoadGenerator] = []
            for (name, signer) in signers {
                generators.append(try await LoadGenerator(name: name, broker: broker, signer: signer, logger: logger))
            }
            pids["load_generator"] = { getpid() }
            let began = clock.now
            let deadline = began + .milliseconds(Int64(duration * 1000))
            let pacer = Pacer(rate: rate)
            async let receipted = withThrowingTaskGroup(of: Int.self) { group in
                for generator in generators {
                    group.addTask { try await generator.sendSteadily(lanes: lanes, pacer: pacer, until: deadline) }
                }
                return try await group.reduce(0, +)
            }
            samples = try await sample(pids, from: began, stored: stored, diagnostics: diagnostics)
            accepted = try await receipted
            published = accepted
            for generator in generators { await generator.shutdown() }
        }
        let seconds = samples.last?.time ?? 0
        gateway.stop()
        collector.stop()

        let read = try RecordedNonceReader.read(directory: work.appending("records"), modifiedSince: .distantPast)
        let steady = samples.filter { $0.time >= warmUp }
        let storedPerSecond = Self.slope(steady.map { ($0.time, Double($0.stored)) })
        var growth: [String: Growth] = [:]
        for name in Self.components {
            let series = steady.compactMap { sample in sample.megabytes[name].map { (sample.time, $0) } }
            guard let first = series.first, let last = series.last else { continue }
            let perSecond = Self.slope(series)
            growth[name] = Growth(
                startMegabytes: first.1, endMegabytes: last.1,
                peakMegabytes: samples.compactMap { $0.megabytes[name] }.max() ?? 0,
                megabytesPerMinute: perSecond * 60,
                megabytesPer10kEnvelopes: storedPerSecond > 0 ? perSecond / storedPerSecond * 10_000 : 0)
        }
        return Result(
            growth: growth, stored: read.uses.count, distinctNonces: Set(read.uses.map(\.nonce)).count,
            published: published, accepted: accepted, seconds: seconds,
            storedPerSecond: storedPerSecond)
    }

    /// VmRSS of every process in `pids`, with `storedCount`, every ``sampleEvery`` from `began` until
    /// ``duration`` has passed; fails when one of them is gone.
    private func sample(
        _ pids: [String: @Sendable () -> Int32?], from began: ContinuousClock.Instant,
        stored storedCount: () -> Int, diagnostics: () -> String
    ) async throws -> [Sample] {
        let clock = ContinuousClock()
        let end = began + .milliseconds(Int64(duration * 1000))
        var samples: [Sample] = []
        var next = began
        while true {
            let elapsed = EdgeProofBench.seconds(clock.now - began)
            var megabytes: [String: Double] = [:]
            for (name, pid) in pids {
                guard let pid = pid(), let memory = ResidentMemory.of(pid: pid) else {
                    throw BenchmarkError("the \(name) stopped during the soak\n\(diagnostics())")
                }
                megabytes[name] = memory.current
            }
            let sample = Sample(time: elapsed, stored: storedCount(), megabytes: megabytes)
            samples.append(sample)
            progress(Self.progressLine(sample, warmingUp: elapsed < warmUp))
            guard clock.now < end else { return samples }
            next = next + .milliseconds(Int64(sampleEvery * 1000))
            try await clock.sleep(until: min(next, end))
        }
    }

    static func progressLine(_ sample: Sample, warmingUp: Bool) -> String {
        let memory = components.compactMap { name in
            sample.megabytes[name].map { "\(name) \(String(format: "%.1f", $0))" }
        }
        return String(format: "%5.0f s", sample.time) + "  stored \(sample.stored)  RSS MB: "
            + memory.joined(separator: ", ") + (warmingUp ? "  (warming up)" : "")
    }

    /// Least-squares slope of `points` (y per unit of x); 0 for fewer than two points.
    static func slope(_ points: [(Double, Double)]) -> Double {
        guard points.count >= 2 else { return 0 }
        let count = Double(points.count)
        let meanX = points.map(\.0).reduce(0, +) / count
        let meanY = points.map(\.1).reduce(0, +) / count
        let covariance = points.map { ($0.0 - meanX) * ($0.1 - meanY) }.reduce(0, +)
        let variance = points.map { ($0.0 - meanX) * ($0.0 - meanX) }.reduce(0, +)
        return variance > 0 ? covariance / variance : 0
    }
}
