import Crypto
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofService
import EdgeProofStorage
import Foundation

/// `edgeproof bench attest`: re-attestations submitted to the enrollment book over an allowlist of `agents`
/// enrolled agents (each with a trust block), as a registrar submits them once its checks passed: submits per
/// second, bytes written per submit, and that the allowlist file was never rewritten (same inode, size and
/// modification time) — 100,000 agents re-attesting daily must not rewrite a 100,000-entry file each time.
/// The TPM evidence in the trust blocks is a placeholder: the book decides and records, it does not re-verify.
public struct AttestBenchmark: Sendable {
    public var agents: Int
    public var attestations: Int

    public init(agents: Int, attestations: Int) {
        self.agents = agents
        self.attestations = attestations
    }

    public struct Result: Sendable {
        public var agents: Int
        public var attestations: Int
        public var allowlistBytes: Int
        public var firstSubmitSeconds: Double
        public var perSecond: Double
        public var bytesWrittenPerSubmit: Double
        public var ledgerBytes: Int
        public var allowlistRewritten: Bool
    }

    public func run() throws -> Result {
        let work = try TemporaryDirectory(prefix: "edgeproof-bench-attest")
        defer { work.remove() }
        let file = AllowlistFile(path: work.appending("allowlist.json").path)
        var enrollees: [(key: AgentPublicKey, trust: TrustBlock)] = []
        enrollees.reserveCapacity(agents)
        var entries: [AllowlistEntry] = []
        entries.reserveCapacity(agents)
        let created = Timestamp.string(from: Date())
        let placeholder = Data(repeating: 0, count: 96).base64EncodedString()
        for index in 0..<agents {
            let key = try AgentPublicKey(derRepresentation: P256.Signing.PrivateKey().publicKey.derRepresentation)
            let trust = TrustBlock(
                level: .tpmEKCert, ekPublicHash: PublicKeyHash(subjectPublicKeyInfo: Data("ek-\(index)".utf8)),
                akPublic: placeholder, signingKeyPublic: placeholder,
                certify: SignedAttestation(attest: placeholder, signature: placeholder, qualifyingData: "00"),
                quote: QuoteEvidence(attest: placeholder, signature: placeholder, qualifyingData: "00", pcrValues: [:]),
                enrolledAt: created, attestedAt: created, approvedBy: "expected")
            enrollees.append((key, trust))
            entries.append(
                AllowlistEntry(
                    name: Self.name(index), key: key, createdAt: created, allowedPlaces: [AllowedPlace(region: "US")],
                    trust: trust))
        }
        try file.save(try Allowlist(AllowlistDocument(agents: entries)))
        entries = []
        let before = try FileManager.default.attributesOfItem(atPath: file.url.path)

        let book = EnrollmentBook(allowlist: file, ledger: AttestationLedger(besideAllowlist: file))
        func enrollment(_ number: Int) -> VerifiedEnrollment {
            let index = number % agents
            let round = UInt64(number / agents + 1)
            return VerifiedEnrollment(
                agent: Self.name(index), signingKey: enrollees[index].key, trust: enrollees[index].trust,
                requestedPlaces: [], clock: TPMClockReading(clock: round * 86_400_000, resetCount: 1, restartCount: 0, safe: true))
        }
        let clock = ContinuousClock()
        let start = clock.now
        // The first submit loads the allowlist into the book's cache, as a registrar does once at start.
        try Self.require(try book.submit(enrollment(0), now: Date()))
        let firstSubmitSeconds = seconds(clock.now - start)
        let written = Self.bytesWritten()
        let perSecond = try measureRate(attestations) { number in
            try Self.require(try book.submit(enrollment(number + 1), now: Date()))
        }
        let bytes = Self.bytesWritten() - written
        let after = try FileManager.default.attributesOfItem(atPath: file.url.path)
        let ledger = AttestationLedger(besideAllowlist: file)
        let ledgerBytes = (try? FileManager.default.attributesOfItem(atPath: ledger.url.path)[.size] as? Int) ?? 0
        return Result(
            agents: agents, attestations: attestations, allowlistBytes: before[.size] as? Int ?? 0,
            firstSubmitSeconds: firstSubmitSeconds, perSecond: perSecond,
            bytesWrittenPerSubmit: Double(bytes) / Double(max(1, attestations)), ledgerBytes: ledgerBytes ?? 0,
            allowlistRewritten: before[.systemFileNumber] as? Int != after[.systemFileNumber] as? Int
                || before[.modificationDate] as? Date != after[.modificationDate] as? Date
                || before[.size] as? Int != after[.size] as? Int)
    }

    /// Runs and prints the table and the figures.
    public func runAndPrint() throws {
        let result = try run()
        print("Re-attestations into a \(result.agents)-entry allowlist (\(result.allowlistBytes / 1_000_000) MB)")
        print(
            TextTable(
                header: ["ATTESTATIONS", "SUBMITS/S", "µS/SUBMIT", "BYTES WRITTEN/SUBMIT", "LEDGER BYTES", "ALLOWLIST REWRITTEN"],
                rows: [
                    [
                        "\(result.attestations)", format(result.perSecond), format(1_000_000 / result.perSecond),
                        format(result.bytesWrittenPerSubmit), "\(result.ledgerBytes)",
                        result.allowlistRewritten ? "yes" : "no",
                    ]
                ]
            ).rendered)
        print(
            try jsonLine([
                "attest_submits_per_s": result.perSecond.rounded(),
                "attest_bytes_written_per_submit": result.bytesWrittenPerSubmit.rounded(),
                "attest_first_submit_s": (result.firstSubmitSeconds * 100).rounded() / 100,
                "attest_ledger_bytes": Double(result.ledgerBytes),
                "attest_allowlist_rewritten": result.allowlistRewritten ? 1 : 0,
            ]))
        if result.allowlistRewritten { throw BenchmarkError("the allowlist file was rewritten by re-attestations") }
    }

    private static func name(_ index: Int) -> String { String(format: "agent-%06d", index) }

    private static func require(_ decision: EnrollmentDecision) throws {
        guard case .approved = decision else { throw BenchmarkError("a re-attestation was not approved: \(decision)") }
    }

    /// Bytes this process handed to write(2) so far (`wchar` of /proc/self/io), 0 where there is none.
    private static func bytesWritten() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("wchar:") {
            return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }
}
