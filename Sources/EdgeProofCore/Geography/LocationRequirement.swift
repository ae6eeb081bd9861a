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
        guard let text else { return pattern.allSatisfy { $0 == "*" } }
        return glob(Array(pattern.unicodeScalars), Array(text.unicodeScalars))
    }

    /// Iterative glob with backtracking to the last `*`: linear in practice, never exponential.
    private static func glob(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        var p = 0
        var t = 0
        var star: Int?
        var resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "*" {
                star = p
                resume = t
                p += 1
            } else if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let star {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
