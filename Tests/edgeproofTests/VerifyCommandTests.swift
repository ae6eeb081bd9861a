import Crypto
import EdgeProofCore
import EdgeProofOTLP
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import Testing

@Suite("edgeproof verify")
struct VerifyCommandTests {
    private func record(_ signer: TestSigner, nonce: String) async throws -> StoredRecord {
        let now = Timestamp.string(from: Date())
        let claims = EnvelopeClaims(
            agentName: "agent-001", publicKeyHash: signer.publicKeyHash, nonce: nonce, timestamp: now,
            geographicRegion: GeographicRegion(region: "US", state: "California", city: "Santa Clara"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-agent", version: "1", instanceID: "agent-001"),
                samples: [MetricSample(timestamp: now, metricType: "system", values: ["cpu_percent": 1])]))
        let envelope = try await SignedEnvelope.sign(claims, with: signer)
        return StoredRecord(envelope: envelope, topic: "edgeproof/v1/verified/agent-001/metrics", collector: "collector-1", receivedAt: now)
    }

    /// An allowlist file with `signer` as agent-001, allowed anywhere in the US.
    private func allowlistFile(for signer: TestSigner, in directory: TemporaryDirectory) throws -> String {
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(
                name: "agent-001", key: try AgentPublicKey(derRepresentation: signer.publicKeyDER),
                createdAt: Timestamp.string(from: Date()), allowedPlaces: [AllowedPlace(region: "US")]))
        let path = directory.appending("allowlist.yaml").path
        try AllowlistFile(path: path).save(allowlist)
        return path
    }

    @Test("counts verified records per file and fails on a tampered one")
    func verifiesRecordsFiles() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let signer = TestSigner()
        let allowlistPath = try allowlistFile(for: signer, in: directory)

        let encoder = JSONEncoder()
        let good = try await (0..<3).asyncMap { try await record(signer, nonce: "n-\($0)") }
        let goodFile = directory.appending("records-good.jsonl")
        try Data(good.map { String(decoding: try encoder.encode($0), as: UTF8.self) + "\n" }.joined().utf8).write(to: goodFile)

        var tampered = try await record(signer, nonce: "n-9")
        tampered.payload = Base64URL.encode(Data(#"{"v":1}"#.utf8))
        var moved = try await record(signer, nonce: "n-10")
        moved.geographicRegion = GeographicRegion(region: "EU", state: "Germany", city: "Berlin")
        let badFile = directory.appending("records-bad.jsonl")
        let badLines = [try encoder.encode(good[0]), try encoder.encode(tampered), try encoder.encode(moved), Data("{not json".utf8),
            Data(String(repeating: "[", count: 513).utf8)]
        try Data(badLines.map { String(decoding: $0, as: UTF8.self) + "\n" }.joined().utf8).write(to: badFile)

        let ok = try await ProcessRunner.run(PackagePaths.edgeproofExecutable, ["verify", "--allowlist", allowlistPath, goodFile.path])
        #expect(ok.status == 0, "\(ok.output)\(ok.standardError)")
        #expect(ok.output.contains("3/3 records verified"))

        let bad = try await ProcessRunner.run(PackagePaths.edgeproofExecutable, ["verify", "--allowlist", allowlistPath, goodFile.path, badFile.path])
        #expect(bad.status == 1)
        #expect(bad.output.contains("records-good.jsonl: 3/3 records verified"))
        #expect(bad.output.contains("records-bad.jsonl: 1/5 records verified"))
        #expect(bad.output.contains("line 2:"))
        #expect(bad.output.contains("line 3: header_mismatch"))
        #expect(bad.output.contains("line 4: not a stored record"))
        // A line that once crashed Foundation's JSONDecoder (nesting ends at its limit of 512).
        #expect(bad.output.contains("line 5: not a stored record"))
    }
}

extension VerifyCommandTests {
    @Test("reports honestly signed records of ambiguous envelopes as failures, with the reason")
    func failsAmbiguousRecords() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let signer = TestSigner()
        let allowlistPath = try allowlistFile(for: signer, in: directory)

        // The record a collector that kept the first of two names would have stored: the agent's
        // TPM signed claims with geographic_region twice (US first, Berlin last).
        var ambiguous = try await record(signer, nonce: "n-dup")
        let claims = String(decoding: Base64URL.decode(ambiguous.payload) ?? Data(), as: UTF8.self)
        let doubled = String(claims.dropLast()) + #","geographic_region":{"region":"EU","state":"Germany","city":"Berlin"}}"#
        ambiguous.payload = Base64URL.encode(Array(doubled.utf8))
        let digest = SHA256.hash(data: Array((ambiguous.protected + "." + ambiguous.payload).utf8))
        ambiguous.signature = Base64URL.encode(try await signer.signature(forDigest: digest))
        let good = try await record(signer, nonce: "n-good")
        let encoder = JSONEncoder()
        let lines = [
            String(decoding: try encoder.encode(good), as: UTF8.self),
            String(decoding: try encoder.encode(ambiguous), as: UTF8.self),
            // The record line itself with a second kid, and with its kid in uppercase.
            String(String(decoding: try encoder.encode(good), as: UTF8.self).dropLast()) + #","kid":"\#(String(repeating: "cd", count: 32))"}"#,
            String(decoding: try encoder.encode(good), as: UTF8.self)
                .replacingOccurrences(of: signer.publicKeyHash.hex, with: signer.publicKeyHash.hex.uppercased()),
        ]
        let file = directory.appending("records-ambiguous.jsonl")
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: file)

        let run = try await ProcessRunner.run(PackagePaths.edgeproofExecutable, ["verify", "--allowlist", allowlistPath, file.path])
        #expect(run.status == 1)
        #expect(run.output.contains("records-ambiguous.jsonl: 1/4 records verified"), "\(run.output)")
        #expect(run.output.contains(#"line 2: malformed_envelope: duplicate member "geographic_region" in claims"#), "\(run.output)")
        #expect(run.output.contains(#"line 3: not a stored record: duplicate member "kid" in the record"#), "\(run.output)")
        #expect(run.output.contains("line 4: not a stored record"), "\(run.output)")
    }
}

extension VerifyCommandTests {
    @Test("re-verifies OTLP JSON files line by line; a changed value, a member written twice or another signature fails")
    func verifiesOTLPFiles() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let signer = TestSigner()
        let allowlistPath = try allowlistFile(for: signer, in: directory)
        let now = Timestamp.string(from: Date())
        let lines = try await (0..<3).asyncMap { index in
            let record = try await record(signer, nonce: "n-\(index)")
            let envelope = try SignedEnvelope(
                parsing: Array(#"{"protected":"\#(record.protected)","payload":"\#(record.payload)","signature":"\#(record.signature)"}"#.utf8))
            return String(decoding: try OTLPRecord.line(for: envelope, collector: "collector-1", receivedAt: now, trust: nil), as: UTF8.self)
        }
        let goodFile = directory.appending("metrics-good.jsonl")
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: goodFile)
        let ok = try await ProcessRunner.run(PackagePaths.edgeproofExecutable, ["verify", "--allowlist", allowlistPath, goodFile.path])
        #expect(ok.status == 0, "\(ok.output)\(ok.standardError)")
        #expect(ok.output.contains("metrics-good.jsonl: 3/3 records verified"), "\(ok.output)")

        let bad = [
            lines[0],
            lines[1].replacingOccurrences(of: #""asDouble":1"#, with: #""asDouble":2"#),
            // The value twice: readers that keep the first and readers that keep the last disagree.
            lines[1].replacingOccurrences(of: #""asDouble":1"#, with: #""asDouble":1,"asDouble":2"#),
            lines[2].replacingOccurrences(of: #""edgeproof.nonce","value":{"stringValue":"n-2"}"#, with: #""edgeproof.nonce","value":{"stringValue":"n-1"}"#),
            "{not json",
        ]
        let badFile = directory.appending("metrics-bad.jsonl")
        try Data(bad.map { $0 + "\n" }.joined().utf8).write(to: badFile)
        let run = try await ProcessRunner.run(PackagePaths.edgeproofExecutable, ["verify", "--allowlist", allowlistPath, badFile.path])
        #expect(run.status == 1)
        #expect(run.output.contains("metrics-bad.jsonl: 1/5 records verified"), "\(run.output)")
        #expect(run.output.contains("line 2: header_mismatch"), "\(run.output)")
        #expect(run.output.contains("line 3: "), "the value written twice: \(run.output)")
        #expect(run.output.contains("line 4: header_mismatch"), "\(run.output)")
        #expect(run.output.contains("line 5: malformed_envelope"), "\(run.output)")
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results = [T]()
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
