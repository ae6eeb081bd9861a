import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A swtpm of its own for `edgeproof demo` (one per agent), `edgeproof bench agent|soak` or one test: fresh state
/// in a temporary directory, listening on two adjacent ports of 127.0.0.1. Always ``stop()`` it
/// (`defer { tpm.stop() }`); should the process that started it die first, a watcher that start-swtpm.sh leaves
/// behind stops the daemon within a second.
public final class SoftwareTPM: Sendable {
    /// For ``EdgeProofTPM/TPMDevice/init(tcti:)``: "swtpm:host=127.0.0.1,port=N".
    public let tcti: String
    /// The TPM's state directory (also holds swtpm.pid and swtpm.log).
    public let directory: TemporaryDirectory

    /// The CA that signed this TPM's EK certificates, when it was started with them.
    public let manufacturer: SoftwareTPMManufacturer?

    /// `TPM2TOOLS_TCTI` for running tpm2-tools against this TPM.
    public var toolsEnvironment: [String: String] { ["TPM2TOOLS_TCTI": tcti] }

    private init(tcti: String, directory: TemporaryDirectory, manufacturer: SoftwareTPMManufacturer?) {
        self.tcti = tcti
        self.directory = directory
        self.manufacturer = manufacturer
    }

    /// Starts swtpm with tpm/start-swtpm.sh, retrying on new ports up to three times when a port is taken.
    ///
    /// By default the TPM is blank (no EK, no certificates), which is fast. With `endorsementCertificates`
    /// it is first manufactured by `swtpm_setup --create-ek-cert --create-platform-cert` with the CA of
    /// `manufacturer` (a new one inside this TPM's directory when nil, gone with ``stop()``): EK certificates
    /// in NV as on a real TPM, ``manufacturer`` names the CA that signed them.
    public static func start(endorsementCertificates: Bool = false, manufacturer: SoftwareTPMManufacturer? = nil)
        throws -> SoftwareTPM
    {
        let directory = try TemporaryDirectory(prefix: "edgeproof-swtpm")
        var manufacturer = manufacturer
        if endorsementCertificates {
            do {
                let ca = try manufacturer ?? SoftwareTPMManufacturer(directory: .init(at: directory.appending("ca")))
                try ca.manufacture(state: directory)
                manufacturer = ca
            } catch {
                directory.remove()
                throw error
            }
        } else {
            manufacturer = nil
        }
        var failures = [String]()
        for _ in 0..<4 {
            // Not FreePort: the TSS swtpm TCTI opens a TCP connection per command, so a busy test run leaves
            // thousands of client ports of the ephemeral range (where FreePort's port 0 binds land) in
            // TIME_WAIT, and swtpm, binding without SO_REUSEADDR, fails on them. Ports below that range are
            // never client ports. The control channel must be the server port + 1 (the TCTI expects it there).
            let server = UInt16.random(in: 20000...32000)
            let result = try ProcessRunner.run(
                PackagePaths.script("tpm/start-swtpm.sh"), [directory.path, "\(server)", "\(server + 1)"],
                environment: ["EDGEPROOF_SWTPM_WATCH_PID": "\(getpid())"])
            let tcti = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if result.status == 0, tcti.hasPrefix("swtpm:") {
                return SoftwareTPM(tcti: tcti, directory: directory, manufacturer: manufacturer)
            }
            let reason = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            failures.append("ports \(server)/\(server + 1), exit \(result.status): \(reason)")
        }
        directory.remove()
        throw LocalStackError("swtpm did not start on 4 port pairs:\n" + failures.joined(separator: "\n"))
    }

    /// The TPM's server port (the control channel is the next one).
    public var serverPort: UInt16 {
        tcti.split(separator: "port=").last.flatMap { UInt16($0.prefix { $0.isNumber }) } ?? 0
    }

    /// The pid of the running swtpm, from its pid file; nil when none runs on this state.
    public var processIdentifier: pid_t? {
        guard let text = try? String(contentsOf: directory.appending("swtpm.pid"), encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
            let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
            String(decoding: commandLine, as: UTF8.self).contains("dir=\(directory.path)\u{0}")
        else { return nil }
        return pid
    }

    /// Pulls the plug: SIGKILL to this swtpm, no TPM2_Shutdown, as a power loss would. Waits (at most 5 s)
    /// until the process is gone. The state stays; ``restart()`` brings the TPM back on it.
    public func kill() {
        guard let pid = processIdentifier else { return }
        _ = Glibc.kill(pid, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, Self.isRunning(pid) { usleep(20_000) }
        try? FileManager.default.removeItem(at: directory.appending("swtpm.pid"))
    }

    /// Starts swtpm again on the same state and ports (after ``kill()`` or a stop), so the TCTI stays valid.
    /// Retries for up to `timeout` while a port is still taken (a connection of the old process lingering).
    public func restart(timeout: Duration = .seconds(30)) throws {
        let deadline = ContinuousClock.now + timeout
        var reason = ""
        repeat {
            let result = try ProcessRunner.run(
                PackagePaths.script("tpm/start-swtpm.sh"), [directory.path, "\(serverPort)", "\(serverPort + 1)"],
                environment: ["EDGEPROOF_SWTPM_WATCH_PID": "\(getpid())"])
            if result.status == 0 { return }
            reason = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            usleep(200_000)
        } while ContinuousClock.now < deadline
        throw LocalStackError("swtpm did not restart on port \(serverPort) within \(timeout): \(reason)")
    }

    private static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // "pid (swtpm) Z ...": an exited daemon stays a zombie until init reaps it.
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
    }

    /// Makes an ECC P-256 signing key the way EdgeProof did before it set noDA (and as plain tpm2-tools
    /// make it): fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign, under a primary without noDA,
    /// persisted at `handle`. For tests of what happens to such keys.
    public func createKeyWithoutNoDA(at handle: String = "0x81020010") throws {
        let steps: [[String]] = [
            ["tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc", "-c", "primary.ctx"],
            ["tpm2_create", "-Q", "-C", "primary.ctx", "-G", "ecc:ecdsa-sha256", "-a",
                "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", "-u", "key.pub", "-r", "key.priv"],
            ["tpm2_flushcontext", "-t"],
            ["tpm2_load", "-Q", "-C", "primary.ctx", "-u", "key.pub", "-r", "key.priv", "-c", "key.ctx"],
            ["tpm2_evictcontrol", "-Q", "-C", "o", "-c", "key.ctx", handle],
            ["tpm2_flushcontext", "-t"],
        ]
        for step in steps {
            let result = try ProcessRunner.run(
                step[0], Array(step.dropFirst()), environment: toolsEnvironment, currentDirectory: directory.url)
            guard result.status == 0 else {
                let command = step.joined(separator: " ")
                throw LocalStackError("\(command) exited \(result.status): \(result.standardError)")
            }
        }
    }

    /// Stops swtpm with tpm/stop-swtpm.sh (TPM2_Shutdown first, then SIGTERM) and removes its state. Safe to
    /// call more than once. If swtpm would not stop, the directory stays so that its swtpm.pid still names
    /// the process.
    public func stop() {
        let result = try? ProcessRunner.run(PackagePaths.script("tpm/stop-swtpm.sh"), [directory.path])
        guard let result, result.status == 0 else {
            let reason = result?.standardError ?? "tpm/stop-swtpm.sh could not run"
            FileHandle.standardError.write(Data("SoftwareTPM: \(directory.path) not stopped: \(reason)\n".utf8))
            return
        }
        directory.remove()
    }
}
