import ArgumentParser
import EdgeProofCore
import EdgeProofTPM
import Foundation

extension EdgeProof.TPM {
    struct Endorsement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ek",
            abstract: "Print the TPM's endorsement key (PEM), its public hash, or its EK certificates.",
            discussion: """
                The EK is recreated from the TCG default RSA-2048 template (and flushed again); it is the \
                TPM's permanent identity. --format hash prints the SHA-256 of its DER SubjectPublicKeyInfo: \
                the EK public hash an operator pins (`edgeproof allowlist expect`) when the TPM has no \
                certificate from a trusted manufacturer. --format cert prints the EK certificates stored in NV \
                (TCG indices 0x01c00002 RSA-2048, 0x01c0000a ECC P-256, 0x01c00016 ECC P-384, in that order) \
                as PEM; a TPM without any exits 1.
                """
        )

        enum Format: String, CaseIterable, ExpressibleByArgument {
            case pem, hash, cert
        }

        @OptionGroup var options: Options

        @Option(help: "Output format.")
        var format: Format = .hash

        func run() async throws {
            switch format {
            case .pem, .hash:
                let key = try await options.withDevice { device throws(TPMError) in
                    let key = try await device.endorsementKey()
                    try await device.flushEndorsementKey()
                    return key.publicKey
                }
                if format == .hash {
                    print(key.hash.hex)
                } else {
                    var pem = key.pemRepresentation
                    while pem.hasSuffix("\n") { pem.removeLast() }
                    print(pem)
                }
            case .cert:
                let certificates = try await options.withDevice { device throws(TPMError) in
                    try await device.endorsementCertificates()
                }
                guard !certificates.isEmpty else {
                    FileHandle.standardError.write(Data("error: the TPM holds no EK certificate in NV\n".utf8))
                    throw ExitCode.failure
                }
                for certificate in certificates { print(Self.pem(certificate.der)) }
            }
        }

        /// PEM with 64-character lines ("\n", not Foundation's "\r\n").
        private static func pem(_ der: [UInt8]) -> String {
            let base64 = Data(der).base64EncodedString()
            var lines = ["-----BEGIN CERTIFICATE-----"]
            var rest = Substring(base64)
            while !rest.isEmpty {
                lines.append(String(rest.prefix(64)))
                rest = rest.dropFirst(64)
            }
            lines.append("-----END CERTIFICATE-----")
            return lines.joined(separator: "\n")
        }
    }
}
