import Synchronization

/// What keeps the agent from doing its whole job right now, by area ("tpm", "application_metrics_file",
/// "samples", …), each with a sentence for people. Empty: healthy. The retained status says `degraded`
/// with these sentences while any is set.
final class AgentHealth: Sendable {
    private struct State {
        var problems: [String: String] = [:]
        /// Bumped by every change, so the status is republished only when something changed.
        var version = 0
    }

    private let state = Mutex(State())

    /// Sets the problem of `area`; returns whether that changed anything.
    @discardableResult
    func report(_ area: String, _ problem: String) -> Bool {
        state.withLock { state in
            guard state.problems[area] != problem else { return false }
            state.problems[area] = problem
            state.version += 1
            return true
        }
    }

    /// Clears the problem of `area`; returns the problem that was set, if any.
    @discardableResult
    func clear(_ area: String) -> String? {
        state.withLock { state in
            guard let old = state.problems.removeValue(forKey: area) else { return nil }
            state.version += 1
            return old
        }
    }

    var problems: [String: String] { state.withLock { $0.problems } }

    var version: Int { state.withLock { $0.version } }

    /// The problems as one text for the status: "area: sentence; area: sentence", sorted by area.
    var summary: String? {
        let problems = self.problems
        guard !problems.isEmpty else { return nil }
        return problems.keys.sorted().map { "\($0): \(problems[$0] ?? "")" }.joined(separator: "; ")
    }
}
