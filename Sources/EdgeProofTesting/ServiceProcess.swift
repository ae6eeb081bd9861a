import EdgeProofLocalStack
import Foundation

/// A long-running program as a child process of the test, e.g. `edgeproof collector --config FILE`, so that a
/// test can crash it (SIGKILL), stop it (SIGTERM) and start it again. The process handling is the product's
/// ``ComponentProcess`` (the benches run components the same way); tests start the built `edgeproof` by default.
public typealias ServiceProcess = ComponentProcess

extension ComponentProcess {
    /// Starts `arguments` of the built `edgeproof` next to the test bundle, logging to `logDirectory/<name>.log`.
    public static func start(
        _ name: String, arguments: [String], logDirectory: URL, environment: [String: String] = [:]
    ) throws -> ComponentProcess {
        try start(
            name, arguments: arguments, logDirectory: logDirectory, executable: PackagePaths.edgeproofExecutable,
            environment: environment)
    }
}

extension PackagePaths {
    /// The built `edgeproof` executable next to the test bundle (or `EDGEPROOF_EXECUTABLE`).
    public static var edgeproofExecutable: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["EDGEPROOF_EXECUTABLE"] { return path }
        var url = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = url.appendingPathComponent("edgeproof")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            url.deleteLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/edgeproof").path
    }
}
