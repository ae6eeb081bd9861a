import Foundation
import Synchronization

/// Runs a program to completion and captures its output: the broker and TPM scripts (broker/, tpm/) for
/// ``MosquittoBroker`` and ``SoftwareTPM``; tests also run the CLI and reference tools (openssl, tpm2-tools).
public struct ProcessResult: Sendable {
    public let status: Int32
    public let standardOutput: Data
    public let standardError: String

    public var output: String { String(decoding: standardOutput, as: UTF8.self) }
}

public enum ProcessRunner {
    /// Runs `executable` (a path, or a name looked up in PATH) with `arguments`.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        currentDirectory: URL? = nil
    ) throws -> ProcessResult {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let errorData = Mutex(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            let data = stderr.fileHandleForReading.readDataToEndOfFile()
            errorData.withLock { $0 = data }
            group.leave()
        }
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus, standardOutput: outputData,
            standardError: String(decoding: errorData.withLock { $0 }, as: UTF8.self))
    }
}

/// Paths inside this package (the scripts in broker/, tpm/, scripts/), found from the source file's location so
/// that `edgeproof demo`, `edgeproof bench` and the tests work from any working directory of a source checkout.
public enum PackagePaths {
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    public static func script(_ relativePath: String) -> String {
        root.appendingPathComponent(relativePath).path
    }
}
