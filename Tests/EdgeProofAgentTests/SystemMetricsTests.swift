import EdgeProofAgent
import EdgeProofCore
import EdgeProofTesting
import Foundation
import Testing

@Suite struct SystemMetricsTests {
    func number(_ values: [String: JSONValue], _ key: String) -> Double? {
        if case .number(let value)? = values[key] { return value }
        return nil
    }

    @Test func reportsPlausibleValuesOnThisHost() throws {
        var metrics = SystemMetrics()
        _ = metrics.sample()
        let values = metrics.sample()
        let cpu = try #require(number(values, "cpu_percent"))
        #expect((0...100).contains(cpu))
        #expect(try #require(number(values, "cpu_count")) >= 1)
        let total = try #require(number(values, "memory_total_bytes"))
        let available = try #require(number(values, "memory_available_bytes"))
        let used = try #require(number(values, "memory_used_bytes"))
        #expect(total > 64 * 1024 * 1024)
        #expect(available <= total)
        #expect(used + available == total)
        #expect((0...100).contains(try #require(number(values, "memory_percent"))))
        let diskTotal = try #require(number(values, "disk_total_bytes"))
        #expect(diskTotal > 0)
        #expect(try #require(number(values, "disk_free_bytes")) <= diskTotal)
        #expect(try #require(number(values, "disk_used_bytes")) <= diskTotal)
        #expect(try #require(number(values, "load_average_1m")) >= 0)
        #expect(try #require(number(values, "load_average_15m")) >= 0)
        #expect(try #require(number(values, "uptime_seconds")) > 0)
        let interfaces = (try? String(contentsOfFile: "/proc/net/dev", encoding: .utf8))?
            .split(separator: "\n").dropFirst(2).filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("lo:") } ?? []
        if !interfaces.isEmpty {
            #expect(try #require(number(values, "network_rx_bytes")) >= 0)
            #expect(try #require(number(values, "network_tx_bytes")) >= 0)
        }
    }

    @Test func computesCPUAndNetworkFromProcFiles() throws {
        let proc = try TemporaryDirectory(prefix: "proc")
        defer { proc.remove() }
        try FileManager.default.createDirectory(at: proc.appending("net"), withIntermediateDirectories: true)
        func stat(_ user: Int, _ idle: Int) throws {
            try Data("cpu  \(user) 0 0 \(idle) 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\n".utf8)
                .write(to: proc.appending("stat"))
        }
        try stat(100, 300)
        try Data("""
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0
              eth0: 1000 10 0 0 0 0 0 0 2000 10 0 0 0 0 0 0
              wlan0: 30 1 0 0 0 0 0 0 40 1 0 0 0 0 0 0

            """.utf8).write(to: proc.appending("net/dev"))
        var metrics = SystemMetrics(procRoot: proc.path)
        let first = metrics.sample()
        #expect(number(first, "cpu_percent") == 25)  // since boot: 100 of 400
        #expect(number(first, "cpu_count") == 2)
        #expect(number(first, "network_rx_bytes") == 1030)
        #expect(number(first, "network_tx_bytes") == 2040)
        try stat(190, 310)  // +90 busy, +10 idle
        #expect(number(metrics.sample(), "cpu_percent") == 90)
    }

    @Test func omitsWhatItCannotRead() {
        var metrics = SystemMetrics(diskPath: "/nonexistent/path", procRoot: "/nonexistent/proc")
        #expect(metrics.sample().isEmpty)
    }
}
