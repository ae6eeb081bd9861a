/// MQTT topic filter matching (`+` one level, `#` the rest), used to route received messages.
enum TopicFilter {
    /// The filter a broker applies for `filter`: a shared subscription `$share/{group}/{filter}`
    /// matches as `{filter}`.
    static func effectiveFilter(_ filter: String) -> Substring {
        guard filter.hasPrefix("$share/") else { return Substring(filter) }
        let rest = filter.dropFirst("$share/".count)
        guard let slash = rest.firstIndex(of: "/") else { return rest }
        return rest[rest.index(after: slash)...]
    }

    static func matches(_ topic: String, filter: String) -> Bool {
        let filterLevels = effectiveFilter(filter).split(separator: "/", omittingEmptySubsequences: false)
        let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
        // Wildcards never match topics starting with '$' (MQTT 4.7.2).
        if topic.hasPrefix("$"), let first = filterLevels.first, first == "+" || first == "#" { return false }
        var index = 0
        for level in filterLevels {
            if level == "#" { return true }
            guard index < topicLevels.count else { return false }
            if level != "+" && level != topicLevels[index] { return false }
            index += 1
        }
        return index == topicLevels.count
    }

    /// A filter a client may subscribe with: non-empty, `#` only last and alone in its level,
    /// `+` alone in its level.
    static func isValid(_ filter: String) -> Bool {
        let levels = effectiveFilter(filter).split(separator: "/", omittingEmptySubsequences: false)
        guard !filter.isEmpty, !levels.isEmpty else { return false }
        for (index, level) in levels.enumerated() {
            if level.contains("#"), level != "#" || index != levels.count - 1 { return false }
            if level.contains("+"), level != "+" { return false }
        }
        return true
    }

    /// A topic a client may publish to: non-empty, no wildcards, no NUL.
    static func isValidTopicName(_ topic: String) -> Bool {
        !topic.isEmpty && topic.utf8.count <= 65535 && !topic.contains("+") && !topic.contains("#")
            && !topic.utf8.contains(0)
    }
}
