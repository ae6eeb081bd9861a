import EdgeProofCollector
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofOTLP
import EdgeProofStorage
import EdgeProofTesting
import Foundation
import OTLPProto
import Testing

@Suite("The collector's OTLP JSON records", .serialized, .timeLimit(.minutes(3)))
struct CollectorOTLPTests {
    @Test("with otlp: every accepted envelope is one ExportMetricsServiceRequest line beside its record, a rejected one is in neither; the official protobuf definitions read every line and its JWS verifies")
    func acceptedEnvelopesBecomeOTLPLines() async throws {
        let world = try await CollectorWorld()
        defer { world.close() }
        var configuration = world.configuration()
        let otlpDirectory = world.directory.appending("otlp").path
        configuration.otlp = .init(directory: otlpDirectory)
        let session = try await Session.start(world)
        let running = try await RunningCollector.start(configuration, statusInbox: session.gatewayInbox)

        var nonces: [String] = []
        for _ in 0..<3 {
            let nonce = try await session.nonce().nonce
            try await session.forward(try await world.agentSigner.envelope(nonce: nonce).serialized())
            // The inbox keeps every receipt: the n-th envelope's is among the first n.
            #expect(try await session.receipts(for: nonce, count: nonces.count + 1).count == 1)
            nonces.append(nonce)
        }
        let outside = try await session.nonce().nonce
        try await session.forward(
            try await world.agentSigner.envelope(nonce: outside, region: GeographicRegion(region: "DE")).serialized())
        #expect(try await session.rejection(reason: "location_not_allowed") != nil)
        try await running.stop()
        await session.close()

        let records = try storedRecords(in: configuration.records.directory)
        let lines = try jsonLines(in: otlpDirectory, prefix: "metrics")
        #expect(records.map(\.nonce) == nonces)
        #expect(lines.count == 3)
        let allowlist = try world.allowlist
        for line in lines {
            try OTLPRecord.verify(line: line, with: allowlist)
        }
        let requests = try lines.map { try ExportMetricsServiceRequest(otlpJSON: $0) }
        #expect(requests.compactMap { $0.resourceMetrics.first?.scopeMetrics.first?.scope.attributes[OTLPRecord.Attribute.nonce]?.string } == nonces)

        // The official reading: opentelemetry-proto's json_format, unknown fields refused; the JWS it read verifies.
        let files = try FileManager.default.contentsOfDirectory(atPath: otlpDirectory).map { "\(otlpDirectory)/\($0)" }
        let result = try await ProcessRunner.run("/usr/bin/env", ["python3", PackagePaths.script("scripts/otlp-check.py")] + files)
        #expect(result.status == 0, "otlp-check.py: \(result.standardError) (scripts/install-deps.sh installs opentelemetry-proto)")
        let read = result.output.split(separator: "\n").compactMap { line in
            try? JSONDecoder().decode([String: JSONValue].self, from: Data(line.utf8))
        }
        #expect(read.count == 3)
        let key = try #require(allowlist.publicKey(forAgent: "agent-001"))
        for jws in read {
            guard case .string(let protected)? = jws["protected"], case .string(let payload)? = jws["payload"],
                case .string(let signature)? = jws["signature"]
            else {
                Issue.record("no JWS in \(jws)")
                continue
            }
            let envelope = try SignedEnvelope(
                parsing: Array(#"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(signature)"}"#.utf8))
            try envelope.verifySignature(with: key)
            #expect(nonces.contains(envelope.claims.nonce))
            #expect(jws["points"] == .number(1))
        }
    }
}

@Suite("Envelopes as OTLP JSON")
struct OTLPRecordTests {
    static let signer = TestSigner()

    static func envelope(values: [String: JSONValue], samples: Int = 1) async throws -> SignedEnvelope {
        let stamp = "2026-12-03T10:00:00.123456789Z"
        let claims = EnvelopeClaims(
            agentName: "agent-001", publicKeyHash: signer.publicKeyHash, nonce: "n-1", timestamp: stamp,
            geographicRegion: santaClara,
            geolocation: Geolocation(latitude: 37.35, longitude: -121.95, accuracyMeters: 15, quality: "GNSS"),
            metrics: MetricsBatch(
                service: ServiceInfo(name: "edgeproof-agent", version: "1.2.3", instanceID: "agent-001"),
                samples: (0..<samples).map { _ in MetricSample(timestamp: stamp, metricType: "application", values: values) }))
        return try await SignedEnvelope.sign(claims, with: signer)
    }

    static func request(_ envelope: SignedEnvelope) throws -> ExportMetricsServiceRequest {
        let line = try OTLPRecord.line(
            for: envelope, collector: "collector-1", receivedAt: "2026-12-03T10:00:01Z",
            trust: RecordTrust(level: .tpmEKCert, attestedAt: 1_764_000_000))
        return try ExportMetricsServiceRequest(otlpJSON: line)
    }

    @Test("values are gauges, names ending in _total cumulative monotonic sums, at the sample's own time to the nanosecond; strings stay in the signed payload only")
    func gaugesSumsAndTimes() async throws {
        let envelope = try await Self.envelope(values: [
            "cpu_percent": .number(12.5), "requests_total": .number(42), "healthy": .bool(true), "note": .string("x"),
        ])
        let scope = try #require(try Self.request(envelope).resourceMetrics.first?.scopeMetrics.first)
        let metrics = Dictionary(uniqueKeysWithValues: scope.metrics.map { ($0.name, $0) })
        #expect(Set(metrics.keys) == ["cpu_percent", "requests_total", "healthy"])
        guard case .gauge(let gauge)? = metrics["cpu_percent"]?.data, let cpu = gauge.dataPoints.first else {
            Issue.record("cpu_percent is not a gauge")
            return
        }
        #expect(cpu.value == .asDouble(12.5))
        #expect(cpu.timeUnixNano == 1_796_292_000_123_456_789)
        #expect(cpu.attributes.map(\.key) == ["metric_type"] && cpu.attributes["metric_type"]?.string == "application")
        guard case .sum(let sum)? = metrics["requests_total"]?.data else {
            Issue.record("requests_total is not a sum")
            return
        }
        #expect(sum.isMonotonic && sum.aggregationTemporality == .cumulative)
        #expect(sum.dataPoints.first?.value == .asDouble(42))
        guard case .gauge(let healthy)? = metrics["healthy"]?.data else {
            Issue.record("healthy is not a gauge")
            return
        }
        #expect(healthy.dataPoints.first?.value == .asDouble(1))
    }

    @Test("the device is the resource, the proof is the scope, and no nonce or signature is a data-point attribute")
    func attributesWhereTheyBelong() async throws {
        let envelope = try await Self.envelope(values: ["cpu_percent": .number(1)], samples: 3)
        let resource = try #require(try Self.request(envelope).resourceMetrics.first)
        let attributes = resource.resource.attributes
        #expect(attributes["service.name"]?.string == "edgeproof-agent")
        #expect(attributes["service.version"]?.string == "1.2.3")
        #expect(attributes[OTLPRecord.Attribute.agentName]?.string == "agent-001")
        #expect(attributes[OTLPRecord.Attribute.keyHash]?.string == envelope.header.keyID.hex)
        #expect(attributes[OTLPRecord.Attribute.country]?.string == "US")
        #expect(attributes[OTLPRecord.Attribute.locality]?.string == "Santa Clara")
        let scope = try #require(resource.scopeMetrics.first)
        let proof = scope.scope.attributes
        #expect(proof[OTLPRecord.Attribute.nonce]?.string == "n-1")
        #expect(proof[OTLPRecord.Attribute.signature]?.string == envelope.signature)
        #expect(proof[OTLPRecord.Attribute.trustLevel]?.string == "tpm-ek-cert")
        #expect(proof[OTLPRecord.Attribute.latitude]?.double == 37.35)
        #expect(scope.metrics.first?.numberPoints?.count == 3)
        for point in scope.metrics.flatMap({ $0.numberPoints ?? [] }) {
            #expect(point.attributes.map(\.key) == ["metric_type"])
        }
    }

    @Test("a line re-verifies from itself; a changed value, a changed resource or another signature does not")
    func verifiesAndCatchesTampering() async throws {
        let envelope = try await Self.envelope(values: ["cpu_percent": .number(12.5)])
        var allowlist = Allowlist()
        try allowlist.add(
            AllowlistEntry(name: "agent-001", key: try Self.signer.publicKey, createdAt: "2026-12-01T00:00:00Z",
                allowedPlaces: [AllowedPlace(region: "US")]))
        let line = String(decoding: try OTLPRecord.line(for: envelope, collector: "c", receivedAt: "2026-12-03T10:00:01Z", trust: nil), as: UTF8.self)
        try OTLPRecord.verify(line: Array(line.utf8), with: allowlist)
        for (original, tampered) in [
            (#""asDouble":12.5"#, #""asDouble":99"#), (#""stringValue":"Santa Clara""#, #""stringValue":"Berlin""#),
            (#""stringValue":"\#(envelope.signature)""#, #""stringValue":"\#(envelope.signature.reversed().map(String.init).joined())""#),
        ] {
            #expect(line.contains(original))
            #expect(throws: ValidationFailure.self, "\(tampered)") {
                try OTLPRecord.verify(line: Array(line.replacingOccurrences(of: original, with: tampered).utf8), with: allowlist)
            }
        }
    }
}
