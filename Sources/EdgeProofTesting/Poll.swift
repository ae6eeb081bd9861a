/// Waiting on an event that a test can only observe by looking (a file rewritten, a counter moved, a poll of the
/// service under test done): look every `interval` until the condition holds, up to a deadline. The one way tests
/// wait; never a fixed sleep that hopes the event has happened.
public enum Poll {
    /// How long a wait for something that should happen gives up after, unless a test says otherwise. A
    /// wait returns as soon as its condition holds, so only a failing test pays for it; it is long because
    /// CI machines have two cores that the whole suite (brokers, swtpms, Erlang VMs) shares at once.
    public static let patience: Duration = .seconds(30)

    /// Returns true as soon as `condition` holds, false if it still does not after `timeout`.
    @discardableResult
    public static func until(
        timeout: Duration = patience, every interval: Duration = .milliseconds(10),
        _ condition: () async throws -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: interval)
        }
        return try await condition()
    }
}
