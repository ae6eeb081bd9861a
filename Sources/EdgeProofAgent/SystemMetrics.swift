import EdgeProofCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Samples the host: CPU, memory, disk, load, network and uptime, from `/proc` and `statvfs`.
///
/// Values are snake_case keys of a ``MetricSample``'s `values`. Whatever cannot be read (a missing
/// file, another OS) is left out; sampling never fails.
///
/// | key | source |
/// |---|---|
/// | `cpu_percent` | busy share of CPU time between this sample and the previous one (the first sample: since boot), `/proc/stat` |
/// | `cpu_count` | processors in `/proc/stat` |
/// | `memory_total_bytes`, `memory_available_bytes`, `memory_used_bytes`, `memory_percent` | `/proc/meminfo` (used = total − available) |
/// | `disk_total_bytes`, `disk_free_bytes`, `disk_used_bytes`, `disk_usage_percent` | `statvfs(diskPath)`; free = available to unprivileged users |
/// | `load_average_1m`, `load_average_5m`, `load_average_15m` | `/proc/loadavg` |
/// | `network_rx_bytes`, `network_tx_bytes` | `/proc/net/dev`, summed over every interface except loopback |
/// | `uptime_seconds` | `/proc/uptime` |
public struct SystemMetrics: Sendable {
    /// Where `/proc` is (tests point it elsewhere).
    public var procRoot: String
    /// The file system the disk values describe.
    public var diskPath: String
    private var previousCPU: CPUTimes?

    public init(diskPath: String = "/", procRoot: String = "/proc") {
        self.diskPath = diskPath
        self.procRoot = procRoot
    }

    /// Aggregate CPU time in clock ticks.
    struct CPUTimes: Sendable, Hashable {
        var busy: UInt64
        var total: UInt64
    }

    /// Reads every source once and returns the values it found.
    public mutating func sample() -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        if let (times, count) = readCPU() {
            let base = previousCPU.flatMap { $0.total < times.total ? $0 : nil } ?? CPUTimes(busy: 0, total: 0)
            let total = times.total - base.total
            let busy = times.busy >= base.busy ? times.busy - base.busy : 0
            if total > 0 { values["cpu_percent"] = .number(Self.rounded(Double(busy) / Double(total) * 100)) }
            if count > 0 { values["cpu_count"] = .number(Double(count)) }
            previousCPU = times
        }
        values.merge(readMemory()) { _, new in new }
        values.merge(readDisk()) { _, new in new }
        values.merge(readLoad()) { _, new in new }
        values.merge(readNetwork()) { _, new in new }
        if let uptime = read("uptime")?.split(separator: " ").first.flatMap({ Double($0) }) {
            values["uptime_seconds"] = .number(uptime)
        }
        return values
    }

    // MARK: - Sources

    private func read(_ name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "\(procRoot)/\(name)") else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// `cpu  user nice system idle iowait irq softirq steal …`; idle = idle + iowait.
    func readCPU() -> (CPUTimes, Int)? {
        guard let text = read("stat") else { return nil }
        var times: CPUTimes?
        var count = 0
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let label = fields.first, label.hasPrefix("cpu") else { continue }
            if label == "cpu" {
                let numbers = fields.dropFirst().prefix(8).compactMap { UInt64($0) }
                guard numbers.count >= 4 else { continue }
                let total = numbers.reduce(0, +)
                let idle = numbers[3] + (numbers.count > 4 ? numbers[4] : 0)
                times = CPUTimes(busy: total - idle, total: total)
            } else {
                count += 1
            }
        }
        return times.map { ($0, count) }
    }

    private func readMemory() -> [String: JSONValue] {
        guard let text = read("meminfo") else { return [:] }
        var kilobytes: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let number = parts[1].split(separator: " ").first.flatMap({ UInt64($0) }) else {
                continue
            }
            kilobytes[String(parts[0])] = number
        }
        guard let total = kilobytes["MemTotal"], total > 0 else { return [:] }
        // Kernels before 3.14 have no MemAvailable; free + buffers + cached approximates it.
        let available = kilobytes["MemAvailable"]
            ?? (kilobytes["MemFree"] ?? 0) + (kilobytes["Buffers"] ?? 0) + (kilobytes["Cached"] ?? 0)
        let used = total > available ? total - available : 0
        return [
            "memory_total_bytes": .number(Double(total * 1024)),
            "memory_available_bytes": .number(Double(available * 1024)),
            "memory_used_bytes": .number(Double(used * 1024)),
            "memory_percent": .number(Self.rounded(Double(used) / Double(total) * 100)),
        ]
    }

    private func readDisk() -> [String: JSONValue] {
        var stats = statvfs()
        guard statvfs(diskPath, &stats) == 0 else { return [:] }
        let unit = UInt64(stats.f_frsize > 0 ? stats.f_frsize : stats.f_bsize)
        let total = UInt64(stats.f_blocks) * unit
        let free = UInt64(stats.f_bavail) * unit
        let used = total - min(total, UInt64(stats.f_bfree) * unit)
        guard total > 0 else { return [:] }
        // As df: used / (used + available to users).
        let usable = used + free
        return [
            "disk_total_bytes": .number(Double(total)),
            "disk_free_bytes": .number(Double(free)),
            "disk_used_bytes": .number(Double(used)),
            "disk_usage_percent": .number(usable > 0 ? Self.rounded(Double(used) / Double(usable) * 100) : 0),
        ]
    }

    private func readLoad() -> [String: JSONValue] {
        guard let fields = read("loadavg")?.split(separator: " "), fields.count >= 3 else { return [:] }
        var values: [String: JSONValue] = [:]
        for (key, field) in zip(["load_average_1m", "load_average_5m", "load_average_15m"], fields) {
            if let number = Double(field) { values[key] = .number(number) }
        }
        return values
    }

    /// `/proc/net/dev`: two header lines, then `iface: rx_bytes packets … (8 rx fields) tx_bytes …`.
    private func readNetwork() -> [String: JSONValue] {
        guard let text = read("net/dev") else { return [:] }
        var received: UInt64 = 0
        var transmitted: UInt64 = 0
        var interfaces = 0
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            let fields = parts[1].split(separator: " ").compactMap { UInt64($0) }
            guard name != "lo", fields.count >= 9 else { continue }
            received &+= fields[0]
            transmitted &+= fields[8]
            interfaces += 1
        }
        guard interfaces > 0 else { return [:] }
        return ["network_rx_bytes": .number(Double(received)), "network_tx_bytes": .number(Double(transmitted))]
    }

    private static func rounded(_ value: Double) -> Double {
        (value * 100).rounded() / 100
    }
}
