/// What the policy asks of a signed position's evidence, beyond the fence: how it was obtained, how
/// accurate and how fresh it is, and which receivers may report it. Global (`policy.location_requirements`)
/// and per agent (the entry's `location_requirements`, whose keys replace the global ones one by one).
public struct LocationRequirement: Sendable, Hashable, Codable {
    /// The weakest source accepted (`gnss` is the strongest, `configured` the weakest).
    public var minimumSource: LocationSource?
    /// The largest `accuracy_m` accepted (95 % radius, metres); an unknown accuracy is refused.
    public var maximumAccuracyMeters: Double?
    /// The oldest fix accepted, as the signing time minus `fix_time`, in seconds.
    public var maximumFixAgeSeconds: Double?
    /// Receivers accepted for measured positions (any source but `configured`); nil or empty: any.
    public var approvedSensors: [SensorPattern]?

    enum CodingKeys: String, CodingKey {
        case minimumSource = "minimum_source"
        case maximumAccuracyMeters = "maximum_accuracy_m"
        case maximumFixAgeSeconds = "maximum_fix_age_s"
        case approvedSensors = "approved_sensors"
    }

    public init(
        minimumSource: LocationSource? = nil, maximumAccuracyMeters: Double? = nil, maximumFixAgeSeconds: Double? = nil,
        approvedSensors: [SensorPattern]? = nil
    ) {
        self.minimumSource = minimumSource
        self.maximumAccuracyMeters = maximumAccuracyMeters
        self.maximumFixAgeSeconds = maximumFixAgeSeconds
        self.approvedSensors = approvedSensors
    }

    /// These rules with every key `agent` sets replaced by the agent's.
    public func overridden(by agent: LocationRequirement?) -> LocationRequirement {
        guard let agent else { return self }
        return LocationRequirement(
            minimumSource: agent.minimumSource ?? minimumSource,
            maximumAccuracyMeters: agent.maximumAccuracyMeters ?? maximumAccuracyMeters,
            maximumFixAgeSeconds: agent.maximumFixAgeSeconds ?? maximumFixAgeSeconds,
            approvedSensors: agent.approvedSensors ?? approvedSensors)
    }

    /// Limits that are numbers must be finite and not negative.
    public var validationProblem: String? {
        if let maximumAccuracyMeters, !(maximumAccuracyMeters.isFinite && maximumAccuracyMeters >= 0) {
            return "maximum_accuracy_m must be a number of metres, at least 0"
        }
        if let maximumFixAgeSeconds, !(maximumFixAgeSeconds.isFinite && maximumFixAgeSeconds >= 0) {
            return "maximum_fix_age_s must be a number of seconds, at least 0"
        }
        for pattern in approvedSensors ?? [] where pattern.driver == nil && pattern.model == nil && pattern.firmware == nil {
            return "an approved_sensors entry must name at least one of driver, model, firmware"
        }
        return nil
    }
}

/// An approved receiver: glob patterns (`*` any run of characters, `?` one) for the texts gpsd reports.
/// A pattern matches a sensor when each field it names matches the sensor's field; a field the sensor
/// does not report matches only `*`.
public struct SensorPattern: Sendable, Hashable, Codable, CustomStringConvertible {
    public var driver: String?
    public var model: String?
    public var firmware: String?

    public init(driver: String? = nil, model: String? = nil, firmware: String? = nil) {
        self.driver = driver
        self.model = model
        self.firmware = firmware
    }

    public func matches(_ sensor: LocationSensor) -> Bool {
        Self.matches(driver, sensor.driver) && Self.matches(model, sensor.model)
            && Self.matches(firmware, sensor.firmware)
    }

    public var description: String {
        ["driver": driver, "model": model, "firmware": firmware].compactMap { key, value in value.map { "\(key)=\($0)" } }
            .sorted().joined(separator: " ")
    }

    private static func matches(_ pattern: String?, _ text: String?) -> Bool {
        guard let pattern else { return true }
        guard let text else { return pattern.utf8.allSatisfy { $0 == UInt8(ascii: "*") } }
        return glob(pattern.utf8, text.utf8)
    }

    /// Iterative glob over bytes (`?` is one byte: the sensor texts are ASCII) with backtracking to the last
    /// `*`: linear in practice, never exponential, and no allocation (it runs per envelope).
    private static func glob(_ pattern: String.UTF8View, _ text: String.UTF8View) -> Bool {
        let star = UInt8(ascii: "*")
        let any = UInt8(ascii: "?")
        var p = pattern.startIndex
        var t = text.startIndex
        var lastStar: String.UTF8View.Index?
        var resume = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == star {
                lastStar = p
                p = pattern.index(after: p)
                resume = t
            } else if p < pattern.endIndex, pattern[p] == any || pattern[p] == text[t] {
                p = pattern.index(after: p)
                t = text.index(after: t)
            } else if let lastStar {
                p = pattern.index(after: lastStar)
                resume = text.index(after: resume)
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == star { p = pattern.index(after: p) }
        return p == pattern.endIndex
    }
}
