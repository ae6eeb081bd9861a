import Metrics
import Synchronization

/// The counters of one service, through swift-metrics: the service creates `Counter`s with this factory
/// (``counter(_:reason:)``), and ``snapshot`` reads their values for the retained status, so that the
/// status and a metrics backend (the coming `/metrics`) read the same counts.
///
/// Every counter is kept in memory here and also created with `MetricsSystem.factory` (whatever backend
/// the process bootstrapped, a no-op by default), which receives every increment. The values the status
/// shows never depend on the global bootstrap, so several services in one process (tests, the demo) each
/// count on their own.
///
/// Names: the label is the counter's name (`received`, `allowlist_reloads`); a reason is a dimension
/// (`rejected` with `reason=nonce_expired`), shown flat in the snapshot as `rejected.nonce_expired`.
public final class ServiceMetrics: MetricsFactory, Sendable {
    private let counters = Mutex<[String: InMemoryCounter]>([:])
    private let forwarding: @Sendable () -> any MetricsFactory

    /// - Parameter forwardingTo: the backend that also sees every counter; by default the global
    ///   `MetricsSystem.factory`, looked up when a counter is created.
    public init(forwardingTo backend: (any MetricsFactory)? = nil) {
        if let backend {
            forwarding = { backend }
        } else {
            forwarding = { MetricsSystem.factory }
        }
    }

    /// The counter `label`, with a `reason` dimension when given. The same label and reason give the
    /// same count, however often the counter is created.
    public func counter(_ label: String, reason: String? = nil) -> Counter {
        Counter(label: label, dimensions: reason.map { [("reason", $0)] } ?? [], factory: self)
    }

    /// Adds `amount` to a counter named flat: `rejected.nonce_expired` is `rejected` with reason
    /// `nonce_expired`, as the status shows it.
    public func count(_ flatName: String, by amount: Int = 1) {
        let (label, reason) = Self.split(flatName)
        counter(label, reason: reason).increment(by: amount)
    }

    /// Every counter's value by flat name (`received`, `rejected.nonce_expired`); counters never
    /// incremented are left out, as the hand-written counters did.
    public var snapshot: [String: Int] {
        counters.withLock { counters in
            var values: [String: Int] = [:]
            for (name, counter) in counters {
                let value = counter.value
                if value != 0 { values[name] = Int(clamping: value) }
            }
            return values
        }
    }

    /// The value of one counter by flat name, 0 when never incremented.
    public func value(of flatName: String) -> Int {
        counters.withLock { Int(clamping: $0[flatName]?.value ?? 0) }
    }

    static func split(_ flatName: String) -> (label: String, reason: String?) {
        guard let dot = flatName.firstIndex(of: ".") else { return (flatName, nil) }
        return (String(flatName[..<dot]), String(flatName[flatName.index(after: dot)...]))
    }

    static func flatName(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.map(\.1)).joined(separator: ".")
    }

    // MARK: - MetricsFactory

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let name = Self.flatName(label, dimensions)
        if let existing = counters.withLock({ $0[name] }) { return existing }
        let created = InMemoryCounter(forwardingTo: forwarding().makeCounter(label: label, dimensions: dimensions))
        return counters.withLock { counters in
            if let existing = counters[name] { return existing }
            counters[name] = created
            return created
        }
    }

    // Other metric types are not kept for the status: they go to the backend only.

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)])
        -> any FloatingPointCounterHandler
    {
        forwarding().makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        forwarding().makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        forwarding().makeTimer(label: label, dimensions: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        forwarding().makeMeter(label: label, dimensions: dimensions)
    }

    /// Counters stay: the status reports them for the life of the service.
    public func destroyCounter(_ handler: any CounterHandler) {}

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        forwarding().destroyFloatingPointCounter(handler)
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        forwarding().destroyRecorder(handler)
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        forwarding().destroyTimer(handler)
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        forwarding().destroyMeter(handler)
    }
}

/// A counter's value in memory, each increment also passed to the backend's handler.
final class InMemoryCounter: CounterHandler, Sendable {
    private let count = Atomic<Int64>(0)
    private let forwarded: any CounterHandler

    init(forwardingTo forwarded: any CounterHandler) {
        self.forwarded = forwarded
    }

    var value: Int64 { count.load(ordering: .relaxed) }

    func increment(by amount: Int64) {
        count.add(amount, ordering: .relaxed)
        forwarded.increment(by: amount)
    }

    func reset() {
        count.store(0, ordering: .relaxed)
        forwarded.reset()
    }
}
