import EdgeProofCore

// The OTLP metrics data model as OTLP/JSON carries it (the protobuf JSON mapping: lowerCamelCase names,
// 64-bit integers as decimal strings, enums as integers, bytes as base64). Readers accept what senders
// emit: 64-bit integers as strings or numbers, absent repeated fields as empty; unknown fields are ignored,
// as the OTLP specification asks of receivers. Histograms, exponential histograms and summaries are kept
// as they came (``JSONValue``): EdgeProof maps only gauges and sums.

/// One OTLP/HTTP `POST /v1/metrics` body, and one line of an OTLP JSON Lines file.
public struct ExportMetricsServiceRequest: Sendable, Equatable, Codable {
    public var resourceMetrics: [ResourceMetrics]

    public init(resourceMetrics: [ResourceMetrics]) {
        self.resourceMetrics = resourceMetrics
    }

    enum CodingKeys: String, CodingKey { case resourceMetrics }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        resourceMetrics = try container.decodeIfPresent([ResourceMetrics].self, forKey: .resourceMetrics) ?? []
    }
}

public struct ResourceMetrics: Sendable, Equatable, Codable {
    public var resource: Resource?
    public var scopeMetrics: [ScopeMetrics]
    public var schemaUrl: String?

    public init(resource: Resource?, scopeMetrics: [ScopeMetrics], schemaUrl: String? = nil) {
        self.resource = resource
        self.scopeMetrics = scopeMetrics
        self.schemaUrl = schemaUrl
    }

    enum CodingKeys: String, CodingKey { case resource, scopeMetrics, schemaUrl }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        resource = try container.decodeIfPresent(Resource.self, forKey: .resource)
        scopeMetrics = try container.decodeIfPresent([ScopeMetrics].self, forKey: .scopeMetrics) ?? []
        schemaUrl = try container.decodeIfPresent(String.self, forKey: .schemaUrl)
    }
}

public struct Resource: Sendable, Equatable, Codable {
    public var attributes: [KeyValue]

    public init(attributes: [KeyValue]) {
        self.attributes = attributes
    }

    enum CodingKeys: String, CodingKey { case attributes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        attributes = try container.decodeIfPresent([KeyValue].self, forKey: .attributes) ?? []
    }
}

public struct ScopeMetrics: Sendable, Equatable, Codable {
    public var scope: InstrumentationScope?
    public var metrics: [Metric]
    public var schemaUrl: String?

    public init(scope: InstrumentationScope?, metrics: [Metric], schemaUrl: String? = nil) {
        self.scope = scope
        self.metrics = metrics
        self.schemaUrl = schemaUrl
    }

    enum CodingKeys: String, CodingKey { case scope, metrics, schemaUrl }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        scope = try container.decodeIfPresent(InstrumentationScope.self, forKey: .scope)
        metrics = try container.decodeIfPresent([Metric].self, forKey: .metrics) ?? []
        schemaUrl = try container.decodeIfPresent(String.self, forKey: .schemaUrl)
    }
}

public struct InstrumentationScope: Sendable, Equatable, Codable {
    public var name: String
    public var version: String
    public var attributes: [KeyValue]

    public init(name: String, version: String = "", attributes: [KeyValue] = []) {
        self.name = name
        self.version = version
        self.attributes = attributes
    }

    enum CodingKeys: String, CodingKey { case name, version, attributes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        version = try container.decodeIfPresent(String.self, forKey: .version) ?? ""
        attributes = try container.decodeIfPresent([KeyValue].self, forKey: .attributes) ?? []
    }
}

public struct Metric: Sendable, Equatable, Codable {
    public var name: String
    public var description: String
    public var unit: String
    public var gauge: Gauge?
    public var sum: Sum?
    /// Kept as sent; EdgeProof does not map these.
    public var histogram: JSONValue?
    public var exponentialHistogram: JSONValue?
    public var summary: JSONValue?

    public init(name: String, description: String = "", unit: String = "", gauge: Gauge? = nil, sum: Sum? = nil) {
        self.name = name
        self.description = description
        self.unit = unit
        self.gauge = gauge
        self.sum = sum
    }

    enum CodingKeys: String, CodingKey { case name, description, unit, gauge, sum, histogram, exponentialHistogram, summary }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        unit = try container.decodeIfPresent(String.self, forKey: .unit) ?? ""
        gauge = try container.decodeIfPresent(Gauge.self, forKey: .gauge)
        sum = try container.decodeIfPresent(Sum.self, forKey: .sum)
        histogram = try container.decodeIfPresent(JSONValue.self, forKey: .histogram)
        exponentialHistogram = try container.decodeIfPresent(JSONValue.self, forKey: .exponentialHistogram)
        summary = try container.decodeIfPresent(JSONValue.self, forKey: .summary)
    }
}

public struct Gauge: Sendable, Equatable, Codable {
    public var dataPoints: [NumberDataPoint]

    public init(dataPoints: [NumberDataPoint]) {
        self.dataPoints = dataPoints
    }

    enum CodingKeys: String, CodingKey { case dataPoints }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dataPoints = try container.decodeIfPresent([NumberDataPoint].self, forKey: .dataPoints) ?? []
    }
}

public struct Sum: Sendable, Equatable, Codable {
    /// `AggregationTemporality`: 1 delta, 2 cumulative.
    public static let cumulative = 2
    public static let delta = 1

    public var dataPoints: [NumberDataPoint]
    public var aggregationTemporality: Int
    public var isMonotonic: Bool

    public init(dataPoints: [NumberDataPoint], aggregationTemporality: Int = Sum.cumulative, isMonotonic: Bool) {
        self.dataPoints = dataPoints
        self.aggregationTemporality = aggregationTemporality
        self.isMonotonic = isMonotonic
    }

    enum CodingKeys: String, CodingKey { case dataPoints, aggregationTemporality, isMonotonic }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dataPoints = try container.decodeIfPresent([NumberDataPoint].self, forKey: .dataPoints) ?? []
        aggregationTemporality = try container.decodeEnumIfPresent(forKey: .aggregationTemporality) ?? 0
        isMonotonic = try container.decodeIfPresent(Bool.self, forKey: .isMonotonic) ?? false
    }
}

public struct NumberDataPoint: Sendable, Equatable, Codable {
    public enum Value: Sendable, Equatable {
        case double(Double)
        case int(Int64)

        public var asDouble: Double {
            switch self {
            case .double(let value): value
            case .int(let value): Double(value)
            }
        }
    }

    public var attributes: [KeyValue]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    /// nil: the point has no value (`flags` says why, or it is malformed).
    public var value: Value?
    public var flags: UInt32

    public init(
        attributes: [KeyValue] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64, value: Value?,
        flags: UInt32 = 0
    ) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.value = value
        self.flags = flags
    }

    enum CodingKeys: String, CodingKey { case attributes, startTimeUnixNano, timeUnixNano, asDouble, asInt, flags }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        attributes = try container.decodeIfPresent([KeyValue].self, forKey: .attributes) ?? []
        startTimeUnixNano = try container.decodeUInt64IfPresent(forKey: .startTimeUnixNano) ?? 0
        timeUnixNano = try container.decodeUInt64IfPresent(forKey: .timeUnixNano) ?? 0
        if let double = try container.decodeProtoDoubleIfPresent(forKey: .asDouble) {
            value = .double(double)
        } else if let int = try container.decodeInt64IfPresent(forKey: .asInt) {
            value = .int(int)
        } else {
            value = nil
        }
        flags = UInt32(clamping: try container.decodeUInt64IfPresent(forKey: .flags) ?? 0)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if !attributes.isEmpty { try container.encode(attributes, forKey: .attributes) }
        if startTimeUnixNano != 0 { try container.encode(String(startTimeUnixNano), forKey: .startTimeUnixNano) }
        try container.encode(String(timeUnixNano), forKey: .timeUnixNano)
        switch value {
        case .double(let double)?: try container.encode(double, forKey: .asDouble)
        case .int(let int)?: try container.encode(String(int), forKey: .asInt)
        case nil: break
        }
        if flags != 0 { try container.encode(flags, forKey: .flags) }
    }
}

public struct KeyValue: Sendable, Equatable, Codable {
    public var key: String
    public var value: AnyValue

    public init(_ key: String, _ value: AnyValue) {
        self.key = key
        self.value = value
    }

    enum CodingKeys: String, CodingKey { case key, value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        value = try container.decodeIfPresent(AnyValue.self, forKey: .value) ?? .empty
    }
}

/// An attribute's value: exactly one of its kinds.
public indirect enum AnyValue: Sendable, Equatable, Codable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([AnyValue])
    case keyValueList([KeyValue])
    /// Base64, as sent.
    case bytes(String)
    /// `{}`: no value set.
    case empty

    enum CodingKeys: String, CodingKey {
        case stringValue, boolValue, intValue, doubleValue, arrayValue, kvlistValue, bytesValue
    }

    enum ListKeys: String, CodingKey { case values }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let value = try container.decodeIfPresent(String.self, forKey: .stringValue) {
            self = .string(value)
        } else if let value = try container.decodeIfPresent(Bool.self, forKey: .boolValue) {
            self = .bool(value)
        } else if let value = try container.decodeInt64IfPresent(forKey: .intValue) {
            self = .int(value)
        } else if let value = try container.decodeProtoDoubleIfPresent(forKey: .doubleValue) {
            self = .double(value)
        } else if container.contains(.arrayValue) {
            let list = try container.nestedContainer(keyedBy: ListKeys.self, forKey: .arrayValue)
            self = .array(try list.decodeIfPresent([AnyValue].self, forKey: .values) ?? [])
        } else if container.contains(.kvlistValue) {
            let list = try container.nestedContainer(keyedBy: ListKeys.self, forKey: .kvlistValue)
            self = .keyValueList(try list.decodeIfPresent([KeyValue].self, forKey: .values) ?? [])
        } else if let value = try container.decodeIfPresent(String.self, forKey: .bytesValue) {
            self = .bytes(value)
        } else {
            self = .empty
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .string(let value): try container.encode(value, forKey: .stringValue)
        case .bool(let value): try container.encode(value, forKey: .boolValue)
        case .int(let value): try container.encode(String(value), forKey: .intValue)
        case .double(let value): try container.encode(value, forKey: .doubleValue)
        case .array(let values):
            var list = container.nestedContainer(keyedBy: ListKeys.self, forKey: .arrayValue)
            try list.encode(values, forKey: .values)
        case .keyValueList(let values):
            var list = container.nestedContainer(keyedBy: ListKeys.self, forKey: .kvlistValue)
            try list.encode(values, forKey: .values)
        case .bytes(let value): try container.encode(value, forKey: .bytesValue)
        case .empty: break
        }
    }

    /// The string, for attributes that must be one.
    public var string: String? {
        if case .string(let value) = self { value } else { nil }
    }
}

extension [KeyValue] {
    /// The value of the first attribute named `key`.
    public subscript(key: String) -> AnyValue? {
        first { $0.key == key }?.value
    }
}

extension KeyedDecodingContainer {
    /// A 64-bit integer as the protobuf JSON mapping writes it (a decimal string), or as a number.
    func decodeInt64IfPresent(forKey key: Key) throws -> Int64? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let text = try? decode(String.self, forKey: key) {
            guard let value = Int64(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\"\(text)\" is not a 64-bit integer")
            }
            return value
        }
        return try decode(Int64.self, forKey: key)
    }

    func decodeUInt64IfPresent(forKey key: Key) throws -> UInt64? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let text = try? decode(String.self, forKey: key) {
            guard let value = UInt64(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: self, debugDescription: "\"\(text)\" is not an unsigned 64-bit integer")
            }
            return value
        }
        return try decode(UInt64.self, forKey: key)
    }

    /// A double, or the strings the protobuf JSON mapping uses for the values JSON numbers cannot hold.
    func decodeProtoDoubleIfPresent(forKey key: Key) throws -> Double? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let text = try? decode(String.self, forKey: key) {
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                guard let value = Double(text) else {
                    throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\"\(text)\" is not a number")
                }
                return value
            }
        }
        return try decode(Double.self, forKey: key)
    }

    /// An enum as its number (or, as the mapping also allows, a name this reader does not know: 0).
    func decodeEnumIfPresent(forKey key: Key) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let number = try? decode(Int.self, forKey: key) { return number }
        switch try decode(String.self, forKey: key) {
        case "AGGREGATION_TEMPORALITY_DELTA": return 1
        case "AGGREGATION_TEMPORALITY_CUMULATIVE": return 2
        default: return 0
        }
    }
}
