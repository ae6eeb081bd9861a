import Foundation

/// Runs `body` on a thread of its own and waits for it without holding a thread of Swift's cooperative pool.
///
/// Starting mosquitto or swtpm blocks for up to seconds (certificates made with openssl, a process and its
/// port waited for). The pool has one thread per core: on a 2-core machine two tests starting brokers at
/// once would stall every other task of the process until they are done.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = "edgeproof.local-stack"
        thread.start()
    }
}

extension MosquittoBroker {
    /// ``start(clients:directory:port:)``, waited for off the cooperative pool (see `offThePool`).
    public static func start(
        clients: [String], fleet: [String] = [], directory: TemporaryDirectory? = nil, port: UInt16? = nil,
        profile: Profile = .central
    ) async throws -> MosquittoBroker {
        try await offThePool {
            try start(clients: clients, fleet: fleet, directory: directory, port: port, profile: profile) as MosquittoBroker
        }
    }

    /// ``restart()``, waited for off the cooperative pool.
    public func restart() async throws {
        try await offThePool { try self.restart() as Void }
    }
}

extension SoftwareTPM {
    /// ``start()``, waited for off the cooperative pool.
    public static func start() async throws -> SoftwareTPM {
        try await offThePool { try start() as SoftwareTPM }
    }

    /// ``start(endorsementCertificates:manufacturer:)``, waited for off the cooperative pool (swtpm_setup takes
    /// seconds).
    public static func start(endorsementCertificates: Bool, manufacturer: SoftwareTPMManufacturer? = nil)
        async throws -> SoftwareTPM
    {
        try await offThePool {
            try start(endorsementCertificates: endorsementCertificates, manufacturer: manufacturer) as SoftwareTPM
        }
    }

    /// ``restart(timeout:)``, waited for off the cooperative pool.
    public func restart(timeout: Duration = .seconds(30)) async throws {
        try await offThePool { try self.restart(timeout: timeout) as Void }
    }
}

extension ProcessRunner {
    /// ``run(_:_:input:environment:currentDirectory:)``, waited for off the cooperative pool: a child that runs
    /// for a minute (a bench) must not hold one of its threads meanwhile.
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        currentDirectory: URL? = nil
    ) async throws -> ProcessResult {
        try await offThePool {
            try run(
                executable, arguments, input: input, environment: environment, currentDirectory: currentDirectory)
                as ProcessResult
        }
    }
}

extension EjabberdCluster {
    /// ``start(nodes:clients:directory:topicPrefix:)``, waited for off the cooperative pool (nodes take
    /// seconds to start, a join up to minutes on a loaded machine).
    public static func start(
        nodes count: Int = 2, clients: [String], directory: TemporaryDirectory? = nil, topicPrefix: String = "edgeproof/v1"
    ) async throws -> EjabberdCluster {
        try await offThePool {
            try start(nodes: count, clients: clients, directory: directory, topicPrefix: topicPrefix) as EjabberdCluster
        }
    }
}
