import EdgeProofTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("edgeproof gateway")
struct GatewayCommandTests {
    @Test("a configuration without a broker section fails with a clear message and exit 1")
    func refusesBadConfiguration() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.appending("gateway.yaml")
        try Data("mode: enforce\n".utf8).write(to: file)
        let result = try await ProcessRunner.run(PackagePaths.edgeproofExecutable, ["gateway", "--config", file.path])
        #expect(result.status == 1)
        #expect(result.standardError.contains("broker"), "\(result.standardError)")

        let missing = try await ProcessRunner.run(
            PackagePaths.edgeproofExecutable, ["gateway", "--config", directory.appending("absent.yaml").path])
        #expect(missing.status == 1)
        #expect(missing.standardError.contains("absent.yaml"))
    }

    @Test("runs against mosquitto, reports online, and stops cleanly on SIGTERM with an offline status")
    func runsAndStopsOnSIGTERM() async throws {
        let broker = try await MosquittoBroker.start(clients: ["gateway", "collector-1"])
        defer { broker.close() }
        let config = broker.directory.appending("gateway.yaml")
        try Data(
            """
            broker:
              port: \(broker.port)
              ca_file: \(broker.caFile)
              cert_file: \(broker.certificate(for: "gateway"))
              key_file: \(broker.key(for: "gateway"))
            mode: passthrough
            """.utf8
        ).write(to: config)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: PackagePaths.edgeproofExecutable)
        process.arguments = ["gateway", "--config", config.path]
        let output = broker.directory.appending("gateway.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        let subscribe = [
            "-V", "mqttv5", "--cafile", broker.caFile, "--cert", broker.certificate(for: "collector-1"),
            "--key", broker.key(for: "collector-1"), "-h", "127.0.0.1", "-p", "\(broker.port)",
            "-t", "edgeproof/v1/status/gateway/gateway", "-C", "1", "-W", "10",
        ]
        var online = false
        for _ in 0..<50 where !online {
            let status = try await ProcessRunner.run("mosquitto_sub", subscribe)
            online = status.output.contains(#""state":"online""#)
            if !online { usleep(100_000) }
        }
        #expect(online, "\(String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self))")

        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        #expect(!process.isRunning)
        #expect(process.terminationStatus == 0)
        let final = try await ProcessRunner.run("mosquitto_sub", subscribe)
        #expect(final.output.contains(#""state":"offline""#), "\(final.output)")
    }
}
