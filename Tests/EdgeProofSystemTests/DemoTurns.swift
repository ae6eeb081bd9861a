/// The whole demo, on mosquitto or on the ejabberd cluster, keeps both cores of a CI machine busy for a
/// minute (a broker or two Erlang VMs, eight swtpms, every service): the two take turns, so that the rest of
/// the suite running beside them is not starved into its own timeouts.
actor DemoTurns {
    static let shared = DemoTurns()

    private var running = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        guard running else {
            running = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            running = false
        } else {
            waiting.removeFirst().resume()  // the turn passes on; `running` stays true
        }
    }
}
