import ArgumentParser
import EdgeProofCore
import EdgeProofTPM
import Foundation

extension EdgeProof {
    struct TPM: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tpm",
            abstract: "Provision and read the agent's TPM-resident signing key and the TPM's endorsement key.",
            discussion: """
                The TPM is reached through a TCTI: swtpm:host=127.0.0.1,port=2321 for a software TPM (see \
                tpm/README.md), device:/dev/tpmrm0 for a hardware TPM through the kernel's resource manager. \
                Set TSS2_LOG=all+error to see the TSS library's own messages.
                """,
            subcommands: [Provision.self, PublicKey.self, Endorsement.self]
        )
    }
}

extension EdgeProof.TPM {
    /// Which TPM and which key: shared by every `tpm` subcommand.
    struct Options: ParsableArguments {
        @Option(help: "TCTI of the TPM; $EDGEPROOF_TCTI or $TPM2TOOLS_TCTI when set.")
        var tcti: String = Options.environmentTCTI ?? "device:/dev/tpmrm0"

        @Option(
            help: """
                Persistent handle of the signing key, 0x81000000–0x817FFFFF (default \(PersistentHandle.defaultSigningKey), \
                or \(PersistentHandle.legacySigningKey) where an older install's key is and the default is empty).
                """)
        var handle: PersistentHandle?

        /// `--handle`, else the default or an older install's legacy handle.
        func signingKeyHandle(on device: TPMDevice) async throws(TPMError) -> PersistentHandle {
            if let handle { return handle }
            return try await device.signingKeyHandleWhenUnconfigured()
        }

        private static var environmentTCTI: String? {
            let environment = ProcessInfo.processInfo.environment
            return [environment["EDGEPROOF_TCTI"], environment["TPM2TOOLS_TCTI"]]
                .compactMap { $0 }.first { !$0.isEmpty }
        }

        /// Opens the TPM and runs `body`; a TPM failure becomes `error: …` on stderr and exit status 1.
        func withDevice<T>(_ body: (TPMDevice) async throws(TPMError) -> T) async throws -> T {
            // libtss2 logs every failed step to stderr; the error printed below already says what failed.
            setenv("TSS2_LOG", "all+none", 0)
            do throws(TPMError) {
                return try await body(try TPMDevice(tcti: tcti))
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    struct Provision: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a sign-only key at a persistent handle; does nothing if a suitable one is there.",
            discussion: """
                The key never leaves the TPM (fixedTPM, fixedParent) and has noDA, so unclean shutdowns never \
                lock it out. Running provision again with the same algorithm and handle only prints the \
                existing key. Anything else at the handle (another algorithm, a key without noDA made by an \
                older EdgeProof) is refused with the reason; --replace evicts it and creates a new key, whose \
                new tpm_public_key_hash must then replace the agent's allowlist entry.
                """
        )

        @OptionGroup var options: Options

        @Option(name: .customLong("alg"), help: "Key algorithm.")
        var algorithm: TPMKeyAlgorithm = .eccP256

        @Flag(help: "Evict an unsuitable object at the handle (e.g. a key without noDA) and create a new key.")
        var replace = false

        func run() async throws {
            let key = try await options.withDevice { device throws(TPMError) in
                try await device.provisionSigningKey(
                    algorithm, at: try await options.signingKeyHandle(on: device), replace: replace)
            }
            let what = "\(key.algorithm.displayName) signing key at \(key.handle)"
            if let replaced = key.replaced {
                let old = replaced.publicKeyHash.map { " (tpm_public_key_hash \($0.hex))" } ?? ""
                print("evicted \(replaced.description)\(old) with attributes \(replaced.attributes)")
                print("created \(what) (noDA)")
            } else {
                print(key.created ? "created \(what) (noDA)" : "already provisioned: \(what)")
            }
            print("tpm_public_key_hash: \(key.publicKey.hash.hex)")
            if key.replaced != nil {
                FileHandle.standardError.write(Data("""
                    note: this is a new key: the agent's allowlist entry must change, or its envelopes are \
                    rejected (public_key_hash_mismatch). For example:
                      edgeproof tpm pubkey --handle \(key.handle) > agent.pem
                      edgeproof allowlist remove --file ALLOWLIST --name AGENT
                      edgeproof allowlist add --file ALLOWLIST --name AGENT --public-key agent.pem --region …

                    """.utf8))
            }
        }
    }

    struct PublicKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pubkey",
            abstract: "Print the signing key's public key (PEM) or its tpm_public_key_hash.",
            discussion: "The output is only the key or the hash, so it can be piped: edgeproof tpm pubkey > agent.pem"
        )

        enum Format: String, CaseIterable, ExpressibleByArgument {
            case pem, hash
        }

        @OptionGroup var options: Options

        @Option(help: "Output format.")
        var format: Format = .pem

        func run() async throws {
            let key = try await options.withDevice { device throws(TPMError) in
                try await device.publicKey(at: try await options.signingKeyHandle(on: device))
            }
            switch format {
            case .pem:
                var pem = key.pemRepresentation
                while pem.hasSuffix("\n") { pem.removeLast() }
                print(pem)
            case .hash:
                print(key.hash.hex)
            }
        }
    }
}

extension TPMKeyAlgorithm: ExpressibleByArgument {}

extension PersistentHandle: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }
}
