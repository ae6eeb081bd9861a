import OTLPProto
import SwiftProtobuf

// The OTLP metrics model is OpenTelemetry's own (`OTLPProto`, generated from opentelemetry-proto); these
// are the short names and the two look-ups EdgeProof reads OTLP with.

public typealias ExportMetricsServiceRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
public typealias OTLPMetric = Opentelemetry_Proto_Metrics_V1_Metric
public typealias OTLPNumberDataPoint = Opentelemetry_Proto_Metrics_V1_NumberDataPoint
public typealias OTLPKeyValue = Opentelemetry_Proto_Common_V1_KeyValue
public typealias OTLPAnyValue = Opentelemetry_Proto_Common_V1_AnyValue

extension ExportMetricsServiceRequest {
    /// One OTLP/JSON document, read by the official JSON mapping; unknown fields are refused.
    public init(otlpJSON bytes: some Collection<UInt8>) throws {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = false
        try self.init(jsonUTF8Bytes: Array(bytes), options: options)
    }
}

extension Array where Element == OTLPKeyValue {
    /// The value of the first attribute named `key`.
    public subscript(key: String) -> OTLPAnyValue? {
        first { $0.key == key }?.value
    }
}

extension OTLPAnyValue {
    public var string: String? {
        if case .stringValue(let text)? = value { text } else { nil }
    }

    public var double: Double? {
        if case .doubleValue(let number)? = value { number } else { nil }
    }
}

extension OTLPMetric {
    /// The points of a gauge or a sum; nil for the other kinds.
    public var numberPoints: [OTLPNumberDataPoint]? {
        switch data {
        case .gauge(let gauge): gauge.dataPoints
        case .sum(let sum): sum.dataPoints
        default: nil
        }
    }
}
