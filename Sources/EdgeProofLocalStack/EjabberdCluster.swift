import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real ejabberd 23.01 cluster on 127.0.0.1 for `edgeproof demo --cluster ejabberd` and the tests: its own
/// epmd on a free port, `nodes` nodes (`ep1@127.0.0.1`, …) each with an MQTT v5 listener (TLS, client
/// certificates, broker/acl's rules through ``EjabberdConfiguration``) and its own Erlang distribution port,
/// joined into one Mnesia cluster. Certificates come from broker/gen-certs.sh, as for ``MosquittoBroker``.
/// Every process is started through broker/ejabberd/run.sh (which `exec`s it) and stopped by its pid.
/// Always ``close()`` it.
public final class EjabberdCluster: Sendable {
    /// One node: its MQTT port on 127.0.0.1 and its directory (ejabberd.yml, spool, log).
    public struct Node: Sendable {
        public let name: String
        public let mqttPort: UInt16
        public let distributionPort: UInt16
        public let directory: URL
        public var erlangName: String { "\(name)@127.0.0.1" }
        public var logFile: URL { directory.appendingPathComponent("log/ejabberd.log") }
    }

    public let nodes: [Node]
    /// Certificates (as ``MosquittoBroker``'s), the cookie, epmd's and each node's directory.
    public let directory: TemporaryDirectory
    public let clients: [String]
    let epmdPort: UInt16
    private let ownsDirectory: Bool
    private let epmd: Mutex<Process?>
    private let running: Mutex<[String: Process]>

    /// How long a node may take to open its listener (about 2 s here; more on a loaded machine).
    public static let startTimeout: Duration = .seconds(60)
    public static let stopTimeout: Duration = .seconds(15)

    /// Whether ejabberd and Erlang are installed (`scripts/install-deps.sh --with-ejabberd`).
    public static var isInstalled: Bool {
        let libs = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/x86_64-linux-gnu")) ?? []
        return libs.contains { $0.hasPrefix("ejabberd-") } && FileManager.default.isExecutableFile(atPath: "/usr/bin/erl")
    }

    private init(nodes: [Node], directory: TemporaryDirectory, clients: [String], epmdPort: UInt16, ownsDirectory: Bool) {
        self.nodes = nodes
        self.directory = directory
        self.clients = clients
        self.epmdPort = epmdPort
        self.ownsDirectory = ownsDirectory
        self.epmd = Mutex(nil)
        self.running = Mutex([:])
    }

    deinit {
        stop()
    }

    // MARK: - Starting

    /// Makes certificates for `clients`, writes each node's configuration, starts epmd and the nodes, joins
    /// every node to the first and waits until every MQTT listener accepts connections.
    public static func start(
        nodes count: Int = 2, clients: [String], directory: TemporaryDirectory? = nil, topicPrefix: String = "edgeproof/v1"
    ) throws -> EjabberdCluster {
        guard isInstalled else {
            throw LocalStackError("ejabberd is not installed: run scripts/install-deps.sh --with-ejabberd")
        }
        guard count >= 1 else { throw LocalStackError("a cluster needs at least one node") }
        let ownsDirectory = directory == nil
        let directory = try directory ?? TemporaryDirectory(prefix: "edgeproof-ejabberd")
        do {
            let result = try ProcessRunner.run(PackagePaths.script("broker/gen-certs.sh"), [directory.path] + clients)
            guard result.status == 0 else {
                throw LocalStackError("gen-certs.sh failed (exit \(result.status)): \(result.standardError)")
            }
            // ejabberd wants the broker's certificate and key in one file, with the CA to complete the chain.
            let pem = try [directory.appending("server.crt"), directory.appending("server.key"), directory.appending("ca.crt")]
                .map { try Data(contentsOf: $0) }.reduce(Data(), +)
            let serverPEM = directory.appending("server.pem")
            try write(pem, to: serverPEM, permissions: 0o600)
            let cookie = directory.appending(".erlang.cookie")
            if !FileManager.default.fileExists(atPath: cookie.path) {
                let secret = (0..<32).map { _ in String("ABCDEFGHIJKLMNOPQRSTUVWXYZ".randomElement() ?? "A") }.joined()
                try write(Data(secret.utf8), to: cookie, permissions: 0o400)
            }
            let configuration = try EjabberdConfiguration.fromPackage(topicPrefix: topicPrefix)
            let ports = try FreePort.next(count: 1 + 2 * count)
            var nodes: [Node] = []
            for index in 0..<count {
                let node = Node(
                    name: "ep\(index + 1)", mqttPort: ports[1 + 2 * index], distributionPort: ports[2 + 2 * index],
                    directory: directory.appending("ep\(index + 1)"))
                try FileManager.default.createDirectory(at: node.directory, withIntermediateDirectories: true)
                let yaml = configuration.render(
                    mqttPort: node.mqttPort, certificateFiles: [serverPEM.path], caFile: directory.appending("ca.crt").path)
                try Data(yaml.utf8).write(to: node.directory.appendingPathComponent("ejabberd.yml"))
                nodes.append(node)
            }
            let cluster = EjabberdCluster(
                nodes: nodes, directory: directory, clients: clients, epmdPort: ports[0], ownsDirectory: ownsDirectory)
            do {
                try cluster.launchEPMD()
                for node in nodes { try cluster.launch(node) }
                for node in nodes.dropFirst() { try cluster.join(node, to: nodes[0]) }
                return cluster
            } catch {
                cluster.stop()
                throw error
            }
        } catch {
            if ownsDirectory { directory.remove() }
            throw error
        }
    }

    /// Starts a node again (after ``kill(_:)`` or ``stop(_:)``) with its old database; it rejoins the cluster
    /// by itself (Mnesia knows its peers).
    public func restart(_ node: Node) throws {
        stop(node)
        try launch(node)
    }

    // MARK: - Stopping

    /// Crashes `node`: SIGKILL to its beam.smp, no goodbye to its clients or peers.
    public func kill(_ node: Node) {
        running.withLock { processes in
            guard let process = processes.removeValue(forKey: node.name), process.isRunning else { return }
            _ = ChildProcess.send(SIGKILL, to: process.processIdentifier)
            _ = ChildProcess.waitForExit(process, timeout: .seconds(5))
        }
    }

    /// Stops `node` cleanly (SIGTERM: the Erlang VM runs init:stop), SIGKILL after ``stopTimeout``.
    public func stop(_ node: Node) {
        running.withLock { processes in
            guard let process = processes.removeValue(forKey: node.name) else { return }
            Self.terminate(process, label: node.erlangName)
        }
    }

    /// Stops every node, then epmd. Keeps the directory.
    public func stop() {
        let processes = running.withLock { processes in
            defer { processes = [:] }
            return processes
        }
        for (name, process) in processes { Self.terminate(process, label: name) }
        epmd.withLock { current in
            if let process = current { Self.terminate(process, label: "epmd") }
            current = nil
        }
    }

    /// Stops everything and removes the directory if ``start(nodes:clients:directory:topicPrefix:)`` made it.
    public func close() {
        stop()
        if ownsDirectory { directory.remove() }
    }

    // MARK: - For clients

    public var caFile: String { directory.appending("ca.crt").path }
    public func certificate(for name: String) -> String { directory.appending("\(name).crt").path }
    public func key(for name: String) -> String { directory.appending("\(name).key").path }
    /// The pid of `node`'s beam.smp, nil when it is not running.
    public func pid(of node: Node) -> Int32? {
        running.withLock { processes in
            guard let process = processes[node.name], process.isRunning else { return nil }
            return process.processIdentifier
        }
    }

    /// The `broker:` section of a component's YAML configuration for `identity`, connecting to `nodes`
    /// (their addresses, tried in this order when a connection fails).
    public func configurationSection(for identity: String, nodes chosen: [Node], section: String = "broker") -> String {
        """
        \(section):
          addresses: [\(chosen.map { "\"127.0.0.1:\($0.mqttPort)\"" }.joined(separator: ", "))]
          ca_file: \(caFile)
          cert_file: \(certificate(for: identity))
          key_file: \(key(for: identity))
        """
    }

    /// The last lines of every node's log, for failure messages.
    public func diagnostics(lines: Int = 30) -> String {
        nodes.map { node in
            "\(node.erlangName) log (last \(lines) lines):\n\(ChildProcess.tail(of: node.logFile, lines: lines))\n"
                + "stdout/stderr:\n\(ChildProcess.tail(of: node.directory.appendingPathComponent("output"), lines: lines))"
        }.joined(separator: "\n")
    }

    // MARK: - Internals

    private func launchEPMD() throws {
        let process = try Self.run(["epmd", "\(epmdPort)"], output: directory.appending("epmd.output"))
        epmd.withLock { $0 = process }
        try Self.waitUntil("epmd on 127.0.0.1:\(epmdPort)", timeout: .seconds(10), process: process) {
            ChildProcess.acceptsConnections(port: self.epmdPort)
        } diagnostics: {
            ChildProcess.tail(of: self.directory.appending("epmd.output"), lines: 20)
        }
    }

    private func launch(_ node: Node) throws {
        let output = node.directory.appendingPathComponent("output")
        let process = try Self.run(
            ["node", node.directory.path, "\(epmdPort)", "\(node.distributionPort)"], output: output)
        running.withLock { $0[node.name] = process }
        try Self.waitUntil("\(node.erlangName) to accept MQTT on 127.0.0.1:\(node.mqttPort)", timeout: Self.startTimeout,
            process: process) {
            ChildProcess.acceptsConnections(port: node.mqttPort)
        } diagnostics: {
            self.diagnostics()
        }
    }

    /// `ejabberd_admin:join_cluster` on `node`, called through a short-lived Erlang node that knows the cookie.
    /// The join restarts ejabberd on `node` and copies the tables; on a loaded machine that outlasts any
    /// fixed RPC timeout now and then, so success is the cluster's membership, asked for until it shows both.
    private func join(_ node: Node, to first: Node) throws {
        let call = """
            Node = '\(node.erlangName)', First = '\(first.erlangName)', \
            R = rpc:call(Node, ejabberd_admin, join_cluster, [atom_to_binary(First)], 120000), \
            Members = fun Ask(0) -> rpc:call(Node, ejabberd_cluster, get_nodes, []); \
                          Ask(K) -> N = rpc:call(Node, ejabberd_cluster, get_nodes, []), \
                              case is_list(N) andalso lists:member(Node, N) andalso lists:member(First, N) of \
                                  true -> N; false -> timer:sleep(1000), Ask(K - 1) end end, \
            io:format("~p~n~p~n", [R, Members(90)]), halt(0).
            """
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = directory.path
        environment["ERL_EPMD_PORT"] = "\(epmdPort)"
        let result = try ProcessRunner.run(
            "/usr/bin/erl",
            ["-name", "ctl\(getpid())@127.0.0.1", "-noinput", "-noshell", "-start_epmd", "false",
             "-kernel", "inet_dist_use_interface", "{127,0,0,1}", "-eval", call],
            environment: environment)
        let answer = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let members = answer.split(separator: "\n").last.map(String.init) ?? ""
        guard result.status == 0, members.contains("'\(first.erlangName)'"), members.contains("'\(node.erlangName)'") else {
            throw LocalStackError(
                "\(node.erlangName) did not join \(first.erlangName): \(answer) \(result.standardError)\n\(diagnostics())")
        }
    }

    private static func run(_ arguments: [String], output: URL) throws -> Process {
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PackagePaths.script("broker/ejabberd/run.sh"))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["EDGEPROOF_BROKER_WATCH_PID": "\(getpid())"]) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        do {
            try process.run()
        } catch {
            throw LocalStackError("cannot run broker/ejabberd/run.sh \(arguments.joined(separator: " ")): \(error)")
        }
        return process
    }

    private static func waitUntil(
        _ what: String, timeout: Duration, process: Process, _ ready: () -> Bool, diagnostics: () -> String
    ) throws {
        let deadline = ContinuousClock.now + timeout
        while !ready() {
            if !process.isRunning {
                throw LocalStackError("\(what): exited with status \(process.terminationStatus)\n\(diagnostics())")
            }
            if ContinuousClock.now >= deadline {
                throw LocalStackError("timed out waiting for \(what) (\(timeout))\n\(diagnostics())")
            }
            usleep(50_000)
        }
    }

    private static func terminate(_ process: Process, label: String) {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        _ = ChildProcess.send(SIGTERM, to: pid)
        if ChildProcess.waitForExit(process, timeout: stopTimeout) { return }
        FileHandle.standardError.write(Data("EjabberdCluster: \(label) (pid \(pid)) ignored SIGTERM; sending SIGKILL\n".utf8))
        _ = ChildProcess.send(SIGKILL, to: pid)
        _ = ChildProcess.waitForExit(process, timeout: .seconds(5))
    }

    private static func write(_ data: Data, to url: URL, permissions: Int) throws {
        try? FileManager.default.removeItem(at: url)
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: permissions]) else {
            throw LocalStackError("cannot write \(url.path)")
        }
    }
}
