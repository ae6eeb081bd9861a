import EdgeProofService
import Metrics
import Synchronization
import Testing

@Suite("Service counters (swift-metrics)")
struct ServiceMetricsTests {
    /// A backend that records what it was given, as a process-wide metrics backend would.
    final class RecordingBackend: MetricsFactory, Sendable {
        final class Handler: CounterHandler, Sendable {
            let total = Atomic<Int64>(0)
            func increment(by amount: Int64) { total.add(amount, ordering: .relaxed) }
            func reset() { total.store(0, ordering: .relaxed) }
        }
        let handlers = Mutex<[String: Handler]>([:])

        func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
            let name = ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: ",")
            return handlers.withLock { handlers in
                if let existing = handlers[name] { return existing }
                let handler = Handler()
                handlers[name] = handler
                return handler
            }
        }
        func total(_ name: String) -> Int64 { handlers.withLock { $0[name]?.total.load(ordering: .relaxed) ?? 0 } }

        func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
            NOOPMetricsHandler.instance
        }
        func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
            NOOPMetricsHandler.instance
        }
        func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { NOOPMetricsHandler.instance }
        func destroyCounter(_ handler: any CounterHandler) {}
        func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
        func destroyRecorder(_ handler: any RecorderHandler) {}
        func destroyTimer(_ handler: any TimerHandler) {}
    }

    @Test func theSnapshotAndTheBackendSeeTheSameCounts() {
        let backend = RecordingBackend()
        let metrics = ServiceMetrics(forwardingTo: backend)
        let received = metrics.counter("received")
        received.increment()
        received.increment(by: 2)
        metrics.counter("rejected", reason: "nonce_expired").increment()
        metrics.count("rejected.nonce_expired")
        metrics.count("rejected")

        #expect(metrics.snapshot == ["received": 3, "rejected.nonce_expired": 2, "rejected": 1])
        #expect(backend.total("received") == 3)
        #expect(backend.total("rejected,reason=nonce_expired") == 2)
        #expect(backend.total("rejected") == 1)
    }

    @Test func servicesInOneProcessCountapart() {
        let first = ServiceMetrics(forwardingTo: RecordingBackend())
        let second = ServiceMetrics(forwardingTo: RecordingBackend())
        first.count("forwarded", by: 5)
        second.count("forwarded")
        #expect(first.value(of: "forwarded") == 5)
        #expect(second.value(of: "forwarded") == 1)
        #expect(second.value(of: "never") == 0)
    }
}
