import EdgeProofCore
import EdgeProofStorage
import EdgeProofTesting
import Foundation

/// Collectors and gateways as child processes (the built `edgeproof` binary), so a test can crash
/// them; pre-filled agent spools; and reading every line a collector wrote.
extension SystemFixture {
    var logDirectory: URL { directory.appending("logs") }

    /// Starts `edgeproof collector --config <id>.yaml` as a child process. `extra`: YAML lines added
    /// to the configuration (e.g. `events_directory:`).
    func collectorProcess(_ id: String, extra: String = "") throws -> ServiceProcess {
        let path = try collectorConfiguration(id, extra: extra)
        let process = try ServiceProcess.start(
            id, arguments: ["collector", "--config", path], logDirectory: logDirectory)
        processes.append(process)
        return process
    }

    /// Starts `edgeproof gateway --config gateway.yaml` as a child process.
    func gatewayProcess(mode: String = "enforce") throws -> ServiceProcess {
        let path = try gatewayConfiguration(mode: mode)
        let process = try ServiceProcess.start(
            "gateway", arguments: ["gateway", "--config", path], logDirectory: logDirectory)
        processes.append(process)
        return process
    }

    /// Puts `count` batches into the agent's spool before the agent runs. Each batch is one sample
    /// whose values carry a unique `marker` ("agent-001/000042"); returns the markers in order.
    func prefillSpool(of agent: String, count: Int) async throws -> [String] {
        let spool = try EnvelopeSpool(directory: spoolDirectory(agent))
        var markers: [String] = []
        for sequence in 0..<count {
            let marker = Self.marker(agent: agent, sequence: sequence)
            let sample = MetricSample(
                timestamp: Timestamp.string(from: Date()), metricType: "fault-test",
                values: ["marker": .string(marker), "sequence": .number(Double(sequence))])
            let batch = EnvelopeSpool.UnsignedBatch(
                geographicRegion: GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
                metrics: MetricsBatch(
                    service: ServiceInfo(name: "fault-test", version: "1.0.0", instanceID: agent), samples: [sample]))
            guard try await spool.enqueue(batch) != nil else {
                throw TestFixtureError("the spool of \(agent) refused batch \(sequence)")
            }
            markers.append(marker)
        }
        return markers
    }

    static func marker(agent: String, sequence: Int) -> String {
        let digits = String(sequence)
        return "\(agent)/" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Every line of a collector's records files (closed and open) and events files, each parsed;
    /// lines that do not parse are listed, not thrown.
    func collectorFiles(of collector: String, eventsDirectory: URL? = nil) throws -> CollectorFiles {
        var files = CollectorFiles()
        let records = recordsDirectory(collector)
        files.records = try Self.parse(StoredRecord.self, in: records, prefix: "records-", unparsable: &files.unparsable)
        files.events = try Self.parse(
            TrustEvent.self, in: eventsDirectory ?? records.appendingPathComponent("events"), prefix: "events-",
            unparsable: &files.unparsable)
        return files
    }

    /// Every line of the `prefix` JSON Lines files in `directory` as `T`; "file:line: text" of the
    /// others goes to `unparsable`.
    private static func parse<T: Decodable>(
        _ type: T.Type, in directory: URL, prefix: String, unparsable: inout [String]
    ) throws -> [T] {
        var values: [T] = []
        for file in try jsonLinesFiles(in: directory, prefix: prefix) {
            for (number, line) in try lines(of: file) {
                if let value = try? JSONDecoder().decode(T.self, from: line) {
                    values.append(value)
                } else {
                    let text = String(decoding: line.prefix(120), as: UTF8.self)
                    unparsable.append("\(file.lastPathComponent):\(number): \(text)")
                }
            }
        }
        return values
    }

    /// How many record lines a collector has written so far (cheap: counts newlines).
    func recordLineCount(of collector: String) -> Int {
        guard let files = try? Self.jsonLinesFiles(in: recordsDirectory(collector), prefix: "records-") else {
            return 0
        }
        return files.reduce(0) { total, file in
            total + ((try? Data(contentsOf: file))?.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } ?? 0)
        }
    }

    private static func jsonLinesFiles(in directory: URL, prefix: String) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix(prefix) }
            .filter { $0.lastPathComponent.hasSuffix(".jsonl") || $0.lastPathComponent.hasSuffix(".jsonl.open") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Non-empty lines with their 1-based numbers; a last line without newline counts too (it is torn).
    private static func lines(of file: URL) throws -> [(Int, Data)] {
        let data = try Data(contentsOf: file)
        return data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
            .filter { !$0.element.isEmpty }
            .map { ($0.offset + 1, Data($0.element)) }
    }
}

/// What one collector wrote.
struct CollectorFiles {
    var records: [StoredRecord] = []
    var events: [TrustEvent] = []
    /// "file:line: text" of every line that is not a record (records files) or event (events files).
    var unparsable: [String] = []

    /// The `marker` values of every stored sample.
    var markers: [String] {
        records.flatMap { $0.metrics.samples.compactMap { $0.values["marker"]?.stringValue } }
    }

    /// Events by kind (rejections by reason), e.g. "accepted 1600, rejection.nonce_replayed 2, started 3".
    var eventSummary: String {
        var counts: [String: Int] = [:]
        for event in events {
            let kind = event.rejection.map { "rejection.\($0.reasonCode ?? "?")" } ?? event.kind
            counts[kind, default: 0] += 1
        }
        return counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// How `expected` markers were stored: missing, stored more than once, stored but not expected;
    /// and nonces stored more than once.
    func tally(expected: [String]) -> StorageTally {
        var counts: [String: Int] = [:]
        for marker in markers { counts[marker, default: 0] += 1 }
        var nonces: [String: Int] = [:]
        for record in records { nonces[record.nonce, default: 0] += 1 }
        let expectedSet = Set(expected)
        return StorageTally(
            records: records.count,
            distinct: counts.keys.filter { expectedSet.contains($0) }.count,
            missing: expected.filter { counts[$0] == nil },
            duplicated: counts.filter { $0.value > 1 }.keys.sorted(),
            unexpected: counts.keys.filter { !expectedSet.contains($0) }.sorted(),
            repeatedNonces: nonces.filter { $0.value > 1 }.keys.sorted(),
            unparsable: unparsable)
    }
}

struct StorageTally: CustomStringConvertible {
    var records: Int
    var distinct: Int
    var missing: [String]
    var duplicated: [String]
    var unexpected: [String]
    var repeatedNonces: [String]
    var unparsable: [String]

    var isExact: Bool {
        missing.isEmpty && duplicated.isEmpty && unexpected.isEmpty && repeatedNonces.isEmpty && unparsable.isEmpty
    }

    var description: String {
        "\(records) records, \(distinct) distinct batches, \(duplicated.count) stored twice or more, "
            + "\(missing.count) lost, \(unexpected.count) unexpected, \(repeatedNonces.count) repeated nonces, "
            + "\(unparsable.count) unparsable lines"
    }

    /// A few examples of each problem, for failure messages.
    var examples: String {
        [
            ("lost", missing), ("duplicated", duplicated), ("unexpected", unexpected),
            ("repeated nonces", repeatedNonces), ("unparsable", unparsable),
        ]
        .filter { !$0.1.isEmpty }
        .map { "\($0.0): \($0.1.prefix(5).joined(separator: ", "))" }
        .joined(separator: "; ")
    }
}
