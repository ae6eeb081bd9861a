import EdgeProofService
import Foundation
import Metrics
import Synchronization
import Testing

@Suite("Prometheus exposition of a service's metrics")
struct MetricsExpositionTests {
    @Test("a counter, a timer and a gauge appear under their catalogue names, with help, type and the component label")
    func catalogueNamesHelpAndComponent() async {
        let metrics = ServiceMetrics(component: "collector")
        metrics.count("accepted", by: 3)
        Metrics.Timer(label: "records_fsync_duration", factory: metrics).record(.milliseconds(3))
        Gauge(label: "records_files", factory: metrics).record(2)
        let body = String(decoding: await metrics.exposition(), as: UTF8.self)
        #expect(body.contains("# HELP edgeproof_envelopes_accepted_total "))
        #expect(body.contains("# TYPE edgeproof_envelopes_accepted_total counter"))
        #expect(body.contains(#"edgeproof_envelopes_accepted_total{component="collector"} 3"#))
        #expect(body.contains("# TYPE edgeproof_records_fsync_duration_seconds histogram"))
        #expect(body.contains(#"edgeproof_records_fsync_duration_seconds_bucket{component="collector",le="0.005"} 1"#))
        #expect(body.contains(#"edgeproof_records_fsync_duration_seconds_count{component="collector"} 1"#))
        #expect(body.contains(#"edgeproof_records_files{component="collector"} 2"#))
        #expect(metrics.snapshot == ["accepted": 3], "only counters are status counters")
    }

    @Test("gauges read at scrape time are refreshed before each exposition")
    func refreshedBeforeExposition() async {
        let metrics = ServiceMetrics(component: "agent")
        let depth = Gauge(label: "spool_envelopes", factory: metrics)
        let reads = Counting()
        metrics.onExposition { depth.record(reads.next()) }
        _ = await metrics.exposition()
        let body = String(decoding: await metrics.exposition(), as: UTF8.self)
        #expect(body.contains(#"edgeproof_spool_envelopes{component="agent"} 2"#))
    }

    @Test("a metric without a catalogue entry still gets one stable name and help, whoever creates it first")
    func unknownLabelsGetAStableFamily() async {
        let metrics = ServiceMetrics(component: "gateway")
        metrics.count("something_new")
        metrics.count("something_new.because")
        let body = String(decoding: await metrics.exposition(), as: UTF8.self)
        #expect(body.contains("# TYPE edgeproof_something_new_total counter"))
        #expect(body.contains(#"edgeproof_something_new_total{component="gateway",reason="because"} 1"#))
        #expect(!MetricCatalog.isDefined("something_new"))
    }

    @Test("every catalogue entry has a unique Prometheus name, help text, and a unit suffix that matches its type")
    func catalogueIsConsistent() {
        let names = MetricCatalog.definitions.map(\.name)
        #expect(Set(names).count == names.count)
        for definition in MetricCatalog.definitions {
            #expect(!definition.help.isEmpty)
            #expect(definition.name.hasPrefix("edgeproof_"))
            switch definition.kind {
            case .counter: #expect(definition.name.hasSuffix("_total"), "\(definition.name)")
            case .gauge: #expect(!definition.name.hasSuffix("_total"), "\(definition.name)")
            case .durationHistogram: #expect(definition.name.hasSuffix("_seconds"), "\(definition.name)")
            }
        }
    }

    @Test(
        "metrics.listen takes an IPv4 address and a port; anything else is refused with the key",
        arguments: [
            ("127.0.0.1:9464", true), ("0.0.0.0:0", true), ("localhost:9464", false), ("127.0.0.1", false),
            ("127.0.0.1:70000", false), ("[::1]:9464", false),
        ])
    func listenAddresses(text: String, valid: Bool) {
        #expect((MetricsEndpointSettings.parse(text) != nil) == valid, "\(text)")
    }
}

/// 1, 2, 3, … across calls, from any thread.
final class Counting: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
