import ArgumentParser
import EdgeProofAttestation
import EdgeProofCore
import EdgeProofService
import EdgeProofStorage
import Foundation

/// `allowlist pending|approve|reject|expect|verify-evidence`: the operator's side of attested enrollment.
/// The writing commands go through the enrollment book, under the allowlist's lock, like the registrars.
extension EdgeProof.AllowlistCommand {
    struct Pending: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List enrollments waiting for an operator: name, EK hash, level, places, received, why.")

        @OptionGroup var options: AllowlistFileOption

        func run() throws {
            let allowlist = try options.allowlistFile.load()
            let rows = allowlist.enrollment.pending.map { pending in
                [
                    pending.name, pending.trust.ekPublicHash.hex, pending.trust.level.rawValue,
                    pending.requestedPlaces.map(\.description).joined(separator: ", "), pending.receivedAt, pending.note,
                ]
            }
            print(
                TextTable(header: ["NAME", "EK HASH", "LEVEL", "REQUESTED PLACES", "RECEIVED", "NOTE"], rows: rows)
                    .rendered)
        }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending enrollment; the EK hash given must equal the pending one.",
            discussion: """
                Type or paste the EK public hash you obtained out of band (`edgeproof tpm ek --format hash` on
                the device): approval is a comparison, never a copy. Places default to the requested ones.
                """)

        @OptionGroup var options: AllowlistFileOption
        @OptionGroup var ledger: LedgerOption
        @Option(help: "Agent name.") var name: String
        @Option(name: .customLong("ek-hash"), help: "The agent's EK public hash (64 hex digits).") var ekHash: String
        @OptionGroup var places: PlaceOptions

        func run() throws {
            let hash = try parseEKHash(ekHash)
            let user = ProcessInfo.processInfo.environment["USER"] ?? "unknown"
            let entry = try options.book(ledger: ledger).approve(
                name: name, ekPublicHash: hash, places: try places.parsedOrNil(), approvedBy: "operator:\(user)",
                now: Date())
            print("approved \(name) at level \(entry.trustLevel) (tpm_public_key_hash \(entry.publicKeyHash))")
        }
    }

    struct Reject: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reject a pending enrollment: its name and EK are refused from then on (enrollment_rejected).")

        @OptionGroup var options: AllowlistFileOption
        @OptionGroup var ledger: LedgerOption
        @Option(help: "Agent name.") var name: String

        func run() throws {
            let rejected = try options.book(ledger: ledger).reject(name: name, now: Date())
            print("rejected \(name) with EK \(rejected.ekPublicHash)")
        }
    }

    struct Expect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pre-register a name and EK hash: that enrollment is approved automatically.")

        @OptionGroup var options: AllowlistFileOption
        @OptionGroup var ledger: LedgerOption
        @Option(help: "Agent name.") var name: String
        @Option(name: .customLong("ek-hash"), help: "The agent's EK public hash (64 hex digits).") var ekHash: String
        @OptionGroup var places: PlaceOptions

        func validate() throws {
            guard AgentName.isValid(name) else { throw ValidationError("agent name \"\(name)\" is invalid") }
        }

        func run() throws {
            try options.book(ledger: ledger).expect(
                name: name, ekPublicHash: try parseEKHash(ekHash), places: try places.parsedOrNil(), now: Date())
            print("expecting \(name) with EK \(ekHash.lowercased())")
        }
    }

    struct VerifyEvidence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-evidence",
            abstract: "Re-check every trust block offline; one line per agent, exit status 1 on any failure.",
            discussion: """
                Checks the AK and signing key publics, that the signing key is the entry's public_key, the
                certify and the quote (AK signatures, certified name, qualifying data, PCR digest), and, with
                --ek-certificates holding <ek_public_hash>.der, the EK certificate's chain to the trust store,
                its key, issuer and serial.
                """)

        @OptionGroup var options: AllowlistFileOption
        @Option(name: .customLong("trust-store"), help: "Directory of TPM manufacturer CA certificates (PEM).")
        var trustStore: String
        @Option(name: .customLong("ek-certificates"), help: "Directory of EK certificates named <ek_public_hash>.der.")
        var ekCertificates: String?

        func run() async throws {
            let allowlist = try options.allowlistFile.load()
            let auditor = TrustEvidenceAuditor(
                trustStore: try EKCertificateVerifier(trustStoreDirectory: URL(fileURLWithPath: trustStore)),
                ekCertificates: ekCertificates.map { URL(fileURLWithPath: $0) })
            var failures = 0
            for entry in allowlist.entries {
                switch await auditor.audit(entry) {
                case .configured:
                    print("\(entry.name): ok (configured: no evidence)")
                case .verified(let level, let certificateChecked):
                    print("\(entry.name): ok (\(level)\(certificateChecked ? ", EK certificate re-checked" : ""))")
                case .failed(let reason):
                    failures += 1
                    print("\(entry.name): FAILED \(reason)")
                }
            }
            if failures > 0 {
                print("\(failures) of \(allowlist.count) agents failed")
                throw ExitCode.failure
            }
        }
    }
}

struct LedgerOption: ParsableArguments {
    @Option(help: "Attestation ledger (default: the allowlist's path with .attestations.jsonl).")
    var ledger: String?
}

extension AllowlistFileOption {
    func book(ledger option: LedgerOption) -> EnrollmentBook {
        let file = allowlistFile
        let ledger = option.ledger.map { AttestationLedger(url: URL(fileURLWithPath: $0)) }
            ?? AttestationLedger(besideAllowlist: file)
        return EnrollmentBook(allowlist: file, ledger: ledger)
    }
}

/// `--region/--state/--city` and repeatable `--place Country[/State[/City]]`.
struct PlaceOptions: ParsableArguments {
    @Option(help: "Allowed region (country).") var region: String?
    @Option(help: "Allowed state within the region.") var state: String?
    @Option(help: "Allowed city within the state.") var city: String?
    @Option(name: .customLong("place"), help: "An allowed place as Country[/State[/City]]; repeatable.")
    var places: [String] = []

    func validate() throws {
        if region == nil, state != nil || city != nil {
            throw ValidationError("--state and --city need --region")
        }
    }

    var isEmpty: Bool { region == nil && places.isEmpty }

    func parsed() throws -> [AllowedPlace] {
        var allowed = [AllowedPlace]()
        if let region { allowed.append(AllowedPlace(region: region, state: state, city: city)) }
        for place in places {
            guard let parsed = AllowedPlace(path: place) else {
                throw ValidationError("--place \"\(place)\" is not of the form Country[/State[/City]]")
            }
            allowed.append(parsed)
        }
        return allowed
    }

    /// The places given, or nil for none (the command's default applies).
    func parsedOrNil() throws -> [AllowedPlace]? { isEmpty ? nil : try parsed() }
}

private func parseEKHash(_ text: String) throws -> PublicKeyHash {
    guard let hash = PublicKeyHash(hex: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw ValidationError("--ek-hash \"\(text)\" is not a SHA-256 hash (64 hex digits)")
    }
    return hash
}
