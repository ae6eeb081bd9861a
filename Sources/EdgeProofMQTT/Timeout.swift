/// `body` did not finish within its time limit and was cancelled.
public struct TimeoutError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What was attempted, e.g. "request on edgeproof/v1/agents/a/nonce/request".
    public let operation: String
    public let limit: Duration

    public init(_ operation: String, limit: Duration) {
        self.operation = operation
        self.limit = limit
    }

    public var description: String { "\(operation): timed out after \(limit.secondsDescription)" }
}

/// Runs `body`, cancelling it and throwing ``TimeoutError`` when it has not finished after `limit`.
/// The one timeout helper of EdgeProof: every service bounds its waits with it. `body` runs in a child
/// task, so it inherits the caller's cancellation; to outlive it (a final status while stopping), run
/// this inside an unstructured `Task`.
public func withTimeout<T: Sendable>(
    _ limit: Duration, _ operation: @autoclosure () -> String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw TimeoutError(operation(), limit: limit)
        }
        return result
    }
}

extension Duration {
    /// Seconds as a plain number ("2.5s"), for messages.
    var secondsDescription: String {
        "\(seconds)s"
    }

    /// This duration in seconds, fractions included.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
