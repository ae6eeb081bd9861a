import ArgumentParser
import EdgeProofCollector
import EdgeProofStorage
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

extension EdgeProof {
    struct Collector: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "collector",
            abstract: "Run a collector: issue nonces, verify envelopes, store accepted records, send receipts.",
            discussion: """
                edgeproof collector --config collector.yaml     runs until SIGTERM or SIGINT
                edgeproof collector keygen --out nonce.keys      makes the nonce key file the collectors share

                See config/collector.yaml for every setting. SIGHUP reloads the allowlist.
                """,
            subcommands: [Run.self, Keygen.self],
            defaultSubcommand: Run.self
        )
    }
}

extension EdgeProof.Collector {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Run the collector (the default).")

        @Option(help: "Collector configuration (YAML); environment variables override single keys.")
        var config: String

        func run() async throws {
            let settings: CollectorConfiguration
            let services: [any Service]
            var logger = Logger(label: "edgeproof.collector")
            do {
                settings = try CollectorConfiguration.load(file: config)
                logger.logLevel = settings.logLevel
                // The client first: the group stops services in reverse order, so the collector drains and
                // publishes its offline status before the client disconnects.
                let client = try EdgeProofCollector.Collector.makeClient(configuration: settings, logger: logger)
                let collector = try EdgeProofCollector.Collector(
                    configuration: settings, transport: client, logger: logger)
                services = [client, collector, collector.allowlistWatcher]
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            let group = ServiceGroup(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a nonce key file with one fresh random key (mode 0600); never overwrites.")

        @Option(help: "The key file to create.")
        var out: String

        @Option(help: "Key id, 1-255 (use a new id when rotating).")
        var id: Int = 1

        func validate() throws {
            guard (1...255).contains(id) else { throw ValidationError("--id must be between 1 and 255") }
        }

        func run() throws {
            do {
                try NonceKeyFile.generate(at: URL(fileURLWithPath: out), id: UInt8(id))
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            print("wrote nonce key \(id) to \(out); give every collector of the deployment the same file")
        }
    }
}
