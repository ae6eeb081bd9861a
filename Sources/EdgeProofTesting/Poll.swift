/// Waiting on an event that a test can only observe by looking (a file rewritten, a counter moved, a poll of the
/// service under test done): look every `interval` until the condition holds, up to a deadline. The one way tests
/// wait; never a fixed sleep that hopes the event has happened.
public enum Poll {
    /// Returns true as soon as `condition` holds, false if it still does not after `timeout`.
    @discardableResult
    public static func until(
        timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(10),
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
