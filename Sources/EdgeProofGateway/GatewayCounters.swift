/// Monotonic counters since start, published with the status (`forwarded`, `rejected`,
/// `rejected.<reason>`, …).
struct GatewayCounters: Sendable {
    private(set) var values: [String: Int] = [:]

    mutating func increment(_ name: String, by amount: Int = 1) {
        values[name, default: 0] += amount
    }
}
