import Metrics
import Prometheus
import Synchronization

/// The metrics of one service, through swift-metrics: the service creates `Counter`s, `Timer`s and gauges
/// with this factory (``counter(_:reason:)``, or `Timer(label:factory:)`), and they reach three places:
/// - ``snapshot``: counters kept in memory for the retained status, so that the status and `/metrics`
///   read the same counts;
/// - ``registry``: the Prometheus families `/metrics` shows (``exposition()``), named, typed and
///   explained by ``MetricCatalog``, each with a `component` label;
/// - whatever backend the process bootstrapped (`MetricsSystem.factory`, a no-op by default).
///
/// The values never depend on the global bootstrap, so several services in one process (tests, the demo)
/// each count on their own.
///
/// Names: the label is the metric's name (`received`, `allowlist_reloads`); a reason is a dimension
/// (`rejected` with `reason=nonce_expired`), shown flat in the snapshot as `rejected.nonce_expired`.
public final class ServiceMetrics: MetricsFactory, Sendable {
    /// `agent`, `gateway`, `collector`, `registrar`: the `component` label of every family.
    public let component: String
    /// The Prometheus families of this service.
    public let registry = PrometheusCollectorRegistry()
    private let counters = Mutex<[String: InMemoryCounter]>([:])
    private let refreshers = Mutex<[@Sendable () async -> Void]>([])
    private let forwarding: @Sendable () -> any MetricsFactory

    /// - Parameters:
    ///   - component: the role, the `component` label of every family.
    ///   - forwardingTo: the backend that also sees every metric; by default the global
    ///     `MetricsSystem.factory`, looked up when a metric is created.
    public init(component: String = "service", forwardingTo backend: (any MetricsFactory)? = nil) {
        self.component = component
        if let backend {
            forwarding = { backend }
        } else {
            forwarding = { MetricsSystem.factory }
        }
    }

    /// Runs `refresh` before every ``exposition()``: for gauges whose value is read rather than counted
    /// (spool depth, connection state).
    public func onExposition(_ refresh: @escaping @Sendable () async -> Void) {
        refreshers.withLock { $0.append(refresh) }
    }

    /// The Prometheus text exposition (format 0.0.4) of this service, gauges refreshed first.
    public func exposition() async -> [UInt8] {
        for refresh in refreshers.withLock({ $0 }) { await refresh() }
        return registry.emitToBuffer()
    }

    /// The counter `label`, with a `reason` dimension when given. The same label and reason give the
    /// same count, however often the counter is created.
    public func counter(_ label: String, reason: String? = nil) -> Metrics.Counter {
        Metrics.Counter(label: label, dimensions: reason.map { [("reason", $0)] } ?? [], factory: self)
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
        var handlers = [forwarding().makeCounter(label: label, dimensions: dimensions)]
        if let family = family(label, .counter, dimensions) {
            handlers.append(registry.makeCounter(name: family.name, labels: family.labels, help: family.help))
        }
        let created = InMemoryCounter(forwardingTo: handlers)
        return counters.withLock { counters in
            if let existing = counters[name] { return existing }
            counters[name] = created
            return created
        }
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)])
        -> any FloatingPointCounterHandler
    {
        let forwarded = forwarding().makeFloatingPointCounter(label: label, dimensions: dimensions)
        guard let family = family(label, .counter, dimensions) else { return forwarded }
        return FanOutFloatingPointCounter([
            forwarded, registry.makeCounter(name: family.name, labels: family.labels, help: family.help),
        ])
    }

    /// Recorders and meters are gauges here (a service sets them to what it reads).
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let forwarded = forwarding().makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        guard let family = family(label, .gauge, dimensions) else { return forwarded }
        return FanOutRecorder([forwarded, registry.makeGauge(name: family.name, labels: family.labels, help: family.help)])
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        let forwarded = forwarding().makeMeter(label: label, dimensions: dimensions)
        guard let family = family(label, .gauge, dimensions) else { return forwarded }
        return FanOutMeter([forwarded, registry.makeGauge(name: family.name, labels: family.labels, help: family.help)])
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let forwarded = forwarding().makeTimer(label: label, dimensions: dimensions)
        let definition = MetricCatalog.definition(for: label, kind: .durationHistogram(buckets: []))
        guard case .durationHistogram(let buckets) = definition.kind,
            let family = family(label, definition.kind, dimensions)
        else { return forwarded }
        return FanOutTimer([
            forwarded,
            registry.makeDurationHistogram(name: family.name, labels: family.labels, buckets: buckets, help: family.help),
        ])
    }

    /// The family and labels of a metric, from ``MetricCatalog``; nil for a plain total that the family
    /// shows only by its dimension. A label used as another kind than its entry gets a name of its own:
    /// one name with two types would stop the process.
    private func family(_ label: String, _ kind: MetricDefinition.Kind, _ dimensions: [(String, String)])
        -> (name: String, help: String, labels: [(String, String)])?
    {
        var definition = MetricCatalog.definition(for: label, kind: kind)
        if !definition.kind.isSameType(as: kind) {
            definition = MetricCatalog.fallback(for: "\(label)_\(kind.typeName)", kind: kind)
        }
        if definition.onlyWithDimension && dimensions.isEmpty { return nil }
        return (
            definition.name, definition.help,
            MetricCatalog.labels(for: definition, component: component, dimensions: dimensions)
        )
    }

    /// Counters stay: the status reports them for the life of the service.
    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
    public func destroyMeter(_ handler: any MeterHandler) {}
}

extension MetricDefinition.Kind {
    func isSameType(as other: Self) -> Bool { typeName == other.typeName }

    var typeName: String {
        switch self {
        case .counter: "counter"
        case .gauge: "gauge"
        case .durationHistogram: "histogram"
        }
    }
}

/// A counter's value in memory, each increment also passed to the other handlers (Prometheus, the backend).
final class InMemoryCounter: CounterHandler, Sendable {
    private let count = Atomic<Int64>(0)
    private let forwarded: [any CounterHandler]

    init(forwardingTo forwarded: [any CounterHandler]) {
        self.forwarded = forwarded
    }

    var value: Int64 { count.load(ordering: .relaxed) }

    func increment(by amount: Int64) {
        count.add(amount, ordering: .relaxed)
        for handler in forwarded { handler.increment(by: amount) }
    }

    func reset() {
        count.store(0, ordering: .relaxed)
        for handler in forwarded { handler.reset() }
    }
}

final class FanOutFloatingPointCounter: FloatingPointCounterHandler, Sendable {
    let handlers: [any FloatingPointCounterHandler]
    init(_ handlers: [any FloatingPointCounterHandler]) { self.handlers = handlers }
    func increment(by amount: Double) { for handler in handlers { handler.increment(by: amount) } }
    func reset() { for handler in handlers { handler.reset() } }
}

final class FanOutRecorder: RecorderHandler, Sendable {
    let handlers: [any RecorderHandler]
    init(_ handlers: [any RecorderHandler]) { self.handlers = handlers }
    func record(_ value: Int64) { for handler in handlers { handler.record(value) } }
    func record(_ value: Double) { for handler in handlers { handler.record(value) } }
}

final class FanOutMeter: MeterHandler, Sendable {
    let handlers: [any MeterHandler]
    init(_ handlers: [any MeterHandler]) { self.handlers = handlers }
    func set(_ value: Int64) { for handler in handlers { handler.set(value) } }
    func set(_ value: Double) { for handler in handlers { handler.set(value) } }
    func increment(by amount: Double) { for handler in handlers { handler.increment(by: amount) } }
    func decrement(by amount: Double) { for handler in handlers { handler.decrement(by: amount) } }
}

final class FanOutTimer: TimerHandler, Sendable {
    let handlers: [any TimerHandler]
    init(_ handlers: [any TimerHandler]) { self.handlers = handlers }
    func recordNanoseconds(_ duration: Int64) { for handler in handlers { handler.recordNanoseconds(duration) } }
}

extension Metrics.Timer {
    /// Records a `Duration` (swift-metrics takes nanoseconds).
    public func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
    }
}
