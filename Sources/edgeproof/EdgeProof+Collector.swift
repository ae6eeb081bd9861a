import ArgumentParser
import EdgeProofCollector
import EdgeProofService
import EdgeProofStorage
import Foundation
import Logging

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
            let collector: ComposedService<EdgeProofCollector.Collector>
            var logger = Logger(label: "edgeproof.collector")
            do {
                let settings = try CollectorConfiguration.load(file: config)
                logger.logLevel = settings.logLevel
                collector = try EdgeProofCollector.Collector.compose(configuration: settings, logger: logger)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            try await collector.run(logger: logger)
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
