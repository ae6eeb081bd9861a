import EdgeProofCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The enrollment book: decides what a verified enrollment does to the allowlist — a re-attestation (a line
/// in the attestation ledger, the allowlist untouched), an automatic approval (a re-provisioned key under
/// the same EK, or a name ↔ EK pair the operator expected), a pending enrollment for an operator, or a
/// refusal — and records it. Every read-modify-write holds an exclusive lock on `<allowlist>.lock` (flock),
/// so several registrars and the `edgeproof allowlist` commands never lose each other's writes; the
/// allowlist and the ledger's last lines are cached between calls and re-read only when another writer
/// changed them.
public final class EnrollmentBook: Sendable {
    public let allowlistFile: AllowlistFile
    public let ledger: AttestationLedger?
    private let cache = Mutex(Cache())

    private struct Cache: Sendable {
        var allowlist: Allowlist?
        var identity: FileIdentity?
        var ledgerPosition = LedgerPosition()
        var latest: [String: AttestationLedger.Line] = [:]
    }

    public init(allowlist: AllowlistFile, ledger: AttestationLedger?) {
        self.allowlistFile = allowlist
        self.ledger = ledger
    }

    /// The lock file beside the allowlist.
    public var lockURL: URL { URL(fileURLWithPath: allowlistFile.url.path + ".lock") }

    /// Decides and records `enrollment` (see the type's description); `now` stamps what is written.
    public func submit(_ enrollment: VerifiedEnrollment, now: Date) throws(StorageError) -> EnrollmentDecision {
        try locked { state throws(StorageError) in try decide(enrollment, now: now, state: &state) }
    }

    /// Approves the pending enrollment of `name`, whose EK hash must be `ekPublicHash` (the operator typed or
    /// pasted it: approval is a comparison), with `places` or else the places it asked for. Returns the entry.
    public func approve(
        name: String, ekPublicHash: PublicKeyHash, places: [AllowedPlace]?, approvedBy: String, now: Date
    ) throws(StorageError) -> AllowlistEntry {
        try locked { state throws(StorageError) in
            var allowlist = state.allowlist ?? Allowlist()
            var section = allowlist.enrollment
            guard let pending = section.pending(named: name) else {
                throw StorageError("no pending enrollment for \(name)")
            }
            guard pending.trust.ekPublicHash == ekPublicHash else {
                throw StorageError(
                    "the EK hash given for \(name) (\(ekPublicHash)) is not the pending enrollment's "
                        + "(\(pending.trust.ekPublicHash)): nothing approved")
            }
            let key: AgentPublicKey
            do {
                key = try AgentPublicKey(pemRepresentation: pending.publicKey)
            } catch {
                throw StorageError("pending enrollment \(name): public_key is unusable: \(error)")
            }
            var trust = pending.trust
            trust.approvedBy = approvedBy
            trust.enrolledAt = Timestamp.string(from: now)
            let existing = allowlist.entry(named: name)
            let entry = AllowlistEntry(
                name: name, key: key, createdAt: existing?.createdAt ?? Timestamp.string(from: now),
                allowedPlaces: places ?? (existing?.allowedPlaces ?? pending.requestedPlaces), trust: trust)
            section.pending.removeAll { $0.name == name }
            section.expected.removeAll { $0.name == name }
            try update(&allowlist, context: "approve \(name)") { (list: inout Allowlist) throws(AllowlistError) in
                if existing == nil { try list.add(entry) } else { try list.replace(entry) }
                try list.setEnrollment(section)
            }
            try save(allowlist, state: &state)
            try record(
                AttestationLedger.Line(agent: name, attestedAt: trust.attestedAt, keyHash: key.hash, clock: pending.clock),
                state: &state)
            return entry
        }
    }

    /// Moves the pending enrollment of `name` to `rejected`: its name ↔ EK pair is refused from then on.
    @discardableResult
    public func reject(name: String, now: Date) throws(StorageError) -> RejectedEnrollment {
        try locked { state throws(StorageError) in
            var allowlist = state.allowlist ?? Allowlist()
            var section = allowlist.enrollment
            guard let pending = section.pending(named: name) else {
                throw StorageError("no pending enrollment for \(name)")
            }
            let rejected = RejectedEnrollment(
                name: name, ekPublicHash: pending.trust.ekPublicHash, rejectedAt: Timestamp.string(from: now))
            section.pending.removeAll { $0.name == name }
            section.rejected.append(rejected)
            try update(&allowlist, context: "reject \(name)") { (list: inout Allowlist) throws(AllowlistError) in
                try list.setEnrollment(section)
            }
            try save(allowlist, state: &state)
            return rejected
        }
    }

    /// Registers the pair `name` ↔ `ekPublicHash`: its enrollment will be approved automatically.
    public func expect(
        name: String, ekPublicHash: PublicKeyHash, places: [AllowedPlace]?, now: Date
    ) throws(StorageError) {
        try locked { state throws(StorageError) in
            var allowlist = state.allowlist ?? Allowlist()
            var section = allowlist.enrollment
            section.expected.removeAll { $0.name == name }
            section.expected.append(
                ExpectedEnrollment(
                    name: name, ekPublicHash: ekPublicHash, allowedPlaces: places, addedAt: Timestamp.string(from: now)))
            try update(&allowlist, context: "expect \(name)") { (list: inout Allowlist) throws(AllowlistError) in
                try list.setEnrollment(section)
            }
            try save(allowlist, state: &state)
        }
    }

    // MARK: - The rules

    private func decide(
        _ enrollment: VerifiedEnrollment, now: Date, state: inout Cache
    ) throws(StorageError) -> EnrollmentDecision {
        var allowlist = state.allowlist ?? Allowlist()
        let name = enrollment.agent
        let ek = enrollment.trust.ekPublicHash
        let section = allowlist.enrollment
        let details: [String: JSONValue] = ["agent_name": .string(name), "ek_public_hash": .string(ek.hex)]

        if let entry = allowlist.entry(named: name), entry.status == .revoked {
            return .refused(ValidationFailure(.agentRevoked, "agent \(name) is revoked", details: details))
        }
        if section.isRejected(name: name, ekPublicHash: ek) {
            return .refused(
                ValidationFailure(
                    .enrollmentRejected, "an operator rejected agent \(name) with EK \(ek)", details: details))
        }
        if let holder = allowlist.activeEntry(forEKHash: ek), holder.name != name {
            return .refused(
                ValidationFailure(
                    .ekInUse, "EK \(ek) is already used by active agent \(holder.name)",
                    details: details.merging(["holder": .string(holder.name)]) { first, _ in first }))
        }

        if let entry = allowlist.entry(named: name) {
            guard let trust = entry.trustSummary else {
                return try pend(
                    enrollment, note: "\(name) is allowlisted with a configured key (no TPM evidence): an operator decides",
                    allowlist: &allowlist, now: now, state: &state)
            }
            guard trust.ekPublicHash == ek else {
                return try pend(
                    enrollment, note: "\(name) is enrolled with another EK (\(trust.ekPublicHash)): never automatic",
                    allowlist: &allowlist, now: now, state: &state)
            }
            if entry.publicKeyHash == enrollment.signingKey.hash {
                return try reattest(enrollment, level: trust.level, now: now, state: &state)
            }
            // The same TPM with a new signing key (re-provisioned): the EK proves it is the same machine.
            var evidence = enrollment.trust
            evidence.approvedBy = entry.trust?.approvedBy ?? "re-provisioned"
            evidence.enrolledAt = Timestamp.string(from: now)
            let renewed = AllowlistEntry(
                name: name, key: enrollment.signingKey, createdAt: entry.createdAt, allowedPlaces: entry.allowedPlaces,
                trust: evidence)
            try update(&allowlist, context: "re-provisioned \(name)") { (list: inout Allowlist) throws(AllowlistError) in
                try list.replace(renewed)
                var section = list.enrollment
                section.pending.removeAll { $0.name == name }
                try list.setEnrollment(section)
            }
            try save(allowlist, state: &state)
            try record(line(for: enrollment, now: now), state: &state)
            return .approved(evidence.level)
        }

        if let expected = section.expected(named: name) {
            guard expected.ekPublicHash == ek else {
                return try pend(
                    enrollment, note: "expected with EK \(expected.ekPublicHash), enrolled with another",
                    allowlist: &allowlist, now: now, state: &state)
            }
            var evidence = enrollment.trust
            evidence.approvedBy = "expected"
            evidence.enrolledAt = Timestamp.string(from: now)
            let entry = AllowlistEntry(
                name: name, key: enrollment.signingKey, createdAt: Timestamp.string(from: now),
                allowedPlaces: expected.allowedPlaces ?? enrollment.requestedPlaces, trust: evidence)
            try update(&allowlist, context: "expected \(name)") { (list: inout Allowlist) throws(AllowlistError) in
                try list.add(entry)
                var section = list.enrollment
                section.expected.removeAll { $0.name == name }
                section.pending.removeAll { $0.name == name }
                try list.setEnrollment(section)
            }
            try save(allowlist, state: &state)
            try record(line(for: enrollment, now: now), state: &state)
            return .approved(evidence.level)
        }
        return try pend(
            enrollment, note: "new agent: waiting for an operator", allowlist: &allowlist, now: now, state: &state)
    }

    /// The same name, EK and key: a line in the ledger, the allowlist untouched. A reset count that went up is
    /// a TPM reset; a clock that did not advance under the same reset count is replayed or rolled-back evidence.
    private func reattest(
        _ enrollment: VerifiedEnrollment, level: TrustLevel, now: Date, state: inout Cache
    ) throws(StorageError) -> EnrollmentDecision {
        var reset = false
        if let previous = state.latest[enrollment.agent], let clock = enrollment.clock,
            let resetCount = previous.resetCount, let previousClock = previous.clock
        {
            if clock.resetCount > resetCount {
                reset = true
            } else if clock.resetCount < resetCount || clock.clock <= previousClock {
                return .refused(
                    ValidationFailure(
                        .attestationClockRollback,
                        "TPM clock \(clock.clock) ms (reset count \(clock.resetCount)) is not after the last "
                            + "attestation's \(previousClock) ms (reset count \(resetCount))",
                        details: [
                            "agent_name": .string(enrollment.agent), "clock": .number(Double(clock.clock)),
                            "previous_clock": .number(Double(previousClock)),
                        ]))
            }
        }
        try record(line(for: enrollment, now: now, tpmReset: reset), state: &state)
        return .approved(level)
    }

    private func pend(
        _ enrollment: VerifiedEnrollment, note: String, allowlist: inout Allowlist, now: Date, state: inout Cache
    ) throws(StorageError) -> EnrollmentDecision {
        let pending = PendingEnrollment(
            name: enrollment.agent, publicKey: enrollment.signingKey.pemRepresentation, trust: enrollment.trust,
            requestedPlaces: enrollment.requestedPlaces, receivedAt: Timestamp.string(from: now), note: note,
            clock: enrollment.clock)
        try update(&allowlist, context: "pending \(enrollment.agent)") { (list: inout Allowlist) throws(AllowlistError) in
            var section = list.enrollment
            section.replacePending(pending)
            try list.setEnrollment(section)
        }
        try save(allowlist, state: &state)
        return .pending(note)
    }

    private func line(for enrollment: VerifiedEnrollment, now: Date, tpmReset: Bool = false) -> AttestationLedger.Line {
        AttestationLedger.Line(
            agent: enrollment.agent, attestedAt: Timestamp.string(from: now), keyHash: enrollment.signingKey.hash,
            clock: enrollment.clock, tpmReset: tpmReset)
    }

    // MARK: - Files, under the lock

    /// Runs `body` holding the in-process mutex and the file lock, with the allowlist and the ledger's last
    /// lines brought up to date first.
    private func locked<Result: Sendable>(
        _ body: (inout Cache) throws(StorageError) -> Result
    ) throws(StorageError) -> Result {
        try cache.withLock { (state: inout Cache) throws(StorageError) -> Result in
            let lock = try FileLock(url: lockURL)
            defer { lock.release() }
            try refresh(&state)
            return try body(&state)
        }
    }

    private func refresh(_ state: inout Cache) throws(StorageError) {
        let identity = FileIdentity(path: allowlistFile.url.path)
        if state.allowlist == nil || identity != state.identity {
            state.allowlist = identity == nil ? Allowlist() : try allowlistFile.load()
            state.identity = identity
        }
        if let ledger {
            let lines = try ledger.readAppended(since: &state.ledgerPosition)
            if state.ledgerPosition.linesRead == lines.count {
                state.latest = [:]  // started over (first read or a compacted file)
            }
            AttestationLedger.merge(lines, into: &state.latest)
        }
    }

    private func save(_ allowlist: Allowlist, state: inout Cache) throws(StorageError) {
        try allowlistFile.save(allowlist)
        state.allowlist = allowlist
        state.identity = FileIdentity(path: allowlistFile.url.path)
    }

    /// Appends `line` to the ledger, and compacts it when it outgrew the threshold.
    private func record(_ line: AttestationLedger.Line, state: inout Cache) throws(StorageError) {
        guard let ledger else { return }
        try ledger.append([line])
        // Read back through the position, so that the cache also holds what other writers appended.
        try refresh(&state)
        let agents = state.allowlist?.count ?? 0
        if state.ledgerPosition.linesRead > ledger.compactionThreshold(agents: agents) {
            try ledger.compact(to: state.latest)
            state.ledgerPosition = LedgerPosition()
            try refresh(&state)
        }
    }

    private func update(
        _ allowlist: inout Allowlist, context: String, _ change: (inout Allowlist) throws(AllowlistError) -> Void
    ) throws(StorageError) {
        do {
            try change(&allowlist)
        } catch {
            throw StorageError("\(context): \(error)")
        }
    }
}

/// An exclusive flock on a lock file, held until ``release()``.
struct FileLock {
    private let fd: Int32

    init(url: URL) throws(StorageError) {
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.system("open \(url.path)", errno: errno) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(fd)
                throw StorageError.system("flock \(url.path)", errno: code)
            }
        }
        self.fd = fd
    }

    func release() {
        close(fd)  // closing the descriptor releases the lock
    }
}

/// The allowlist file's identity between two reads: an atomic save is a new inode.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
    }
}
