import EdgeProofCore
import Foundation
import OTLPProto

/// An application's OTLP metrics as the agent's samples: what it signs.
///
/// Each data point of a gauge or a sum becomes the value named after its metric in the sample of its
/// time (`timeUnixNano`, to the nanosecond; points without a time take the time they arrived), its
/// `metric_type` `otlp`. A point with attributes is named `name{key="value",…}` (keys sorted), so that
/// series stay apart. Integers and doubles keep their value. Histograms, exponential histograms and
/// summaries are not signed: they are counted as rejected points (OTLP's partial success says so).
public struct OTLPSamples: Sendable {
    public static let metricType = "otlp"

    public var samples: [MetricSample]
    /// Points not taken, with why (OTLP `partial_success`).
    public var rejectedPoints: Int
    public var rejectionMessage: String?

    public init(_ request: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest, receivedAt: Date) {
        var byTime: [UInt64: [String: JSONValue]] = [:]
        var order: [UInt64] = []
        var rejected = 0
        var reasons: [String] = []
        let now = UInt64(max(0, receivedAt.timeIntervalSince1970) * 1e9)
        for resource in request.resourceMetrics {
            for scope in resource.scopeMetrics {
                for metric in scope.metrics {
                    let points: [Opentelemetry_Proto_Metrics_V1_NumberDataPoint]
                    switch metric.data {
                    case .gauge(let gauge): points = gauge.dataPoints
                    case .sum(let sum): points = sum.dataPoints
                    case .histogram(let histogram):
                        rejected += histogram.dataPoints.count
                        reasons.append("\(metric.name): histograms are not signed")
                        continue
                    case .exponentialHistogram(let histogram):
                        rejected += histogram.dataPoints.count
                        reasons.append("\(metric.name): exponential histograms are not signed")
                        continue
                    case .summary(let summary):
                        rejected += summary.dataPoints.count
                        reasons.append("\(metric.name): summaries are not signed")
                        continue
                    case nil:
                        continue
                    }
                    for point in points {
                        let value: Double
                        switch point.value {
                        case .asDouble(let double) where double.isFinite: value = double
                        case .asInt(let integer): value = Double(integer)
                        default:
                            rejected += 1
                            reasons.append("\(metric.name): a point without a finite value")
                            continue
                        }
                        let time = point.timeUnixNano == 0 ? now : point.timeUnixNano
                        let name = Self.seriesName(metric.name, point.attributes)
                        if byTime[time] == nil {
                            byTime[time] = [:]
                            order.append(time)
                        }
                        if byTime[time]?[name] != nil {
                            rejected += 1
                            reasons.append("\(name): twice at the same time")
                            continue
                        }
                        byTime[time]?[name] = .number(value)
                    }
                }
            }
        }
        samples = order.map { time in
            MetricSample(timestamp: Self.timestamp(unixNanoseconds: time), metricType: Self.metricType, values: byTime[time] ?? [:])
        }
        rejectedPoints = rejected
        rejectionMessage = reasons.isEmpty ? nil : Array(Set(reasons)).sorted().prefix(5).joined(separator: "; ")
    }

    /// `name`, or `name{key="value",…}` with the point's attributes, keys sorted.
    static func seriesName(_ name: String, _ attributes: [Opentelemetry_Proto_Common_V1_KeyValue]) -> String {
        guard !attributes.isEmpty else { return name }
        let labels = attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(text(of: $0.value))\"" }
        return "\(name){\(labels.joined(separator: ","))}"
    }

    static func text(of value: Opentelemetry_Proto_Common_V1_AnyValue) -> String {
        switch value.value {
        case .stringValue(let text): text
        case .boolValue(let bool): bool ? "true" : "false"
        case .intValue(let integer): String(integer)
        case .doubleValue(let double): String(double)
        default: "…"
        }
    }

    /// ISO 8601 with all nine digits of the nanoseconds: `2026-12-03T10:00:00.123456789Z`.
    static func timestamp(unixNanoseconds: UInt64) -> String {
        let seconds = unixNanoseconds / 1_000_000_000
        let fraction = String(unixNanoseconds % 1_000_000_000)
        let whole = Timestamp.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        // `…:ss.000Z` from the fixed formatter: the milliseconds give way to the nanoseconds.
        guard let dot = whole.lastIndex(of: ".") else { return whole }
        return whole[..<dot] + "." + String(repeating: "0", count: 9 - fraction.count) + fraction + "Z"
    }
}
