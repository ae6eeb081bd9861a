import EdgeProofCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The agent's durable queue of metric batches waiting for a collector's receipt.
///
/// One JSON file per entry in ``directory``, written with ``DurableFile/write(_:to:permissions:)``
/// (temporary file, fsync, rename, directory sync), named `<sequence>-<enqueue time>.json` with a
/// zero-padded monotonic sequence, so the directory order is the queue order. An entry always holds
/// the unsigned batch (so it can be signed once a nonce is available, or re-signed with a fresh one)
/// and, once signed, the serialized envelope with its nonce and the nonce's expiry.
///
/// Durable writes, one per state change that must survive a crash:
/// - enqueue: the entry's own file (a batch must not be lost);
/// - signed (and about to be sent): the signed forms of all entries signed together go into one
///   signature file, `signed-<generation>.jsonl`, one line per entry (`sequence`, `signed`,
///   `send_count`): a crash after the publish must not make the batch be signed again under another
///   nonce, which a collector would store a second time. An entry file is never rewritten; on
///   loading, the newest generation's line for a sequence wins over older lines and over a signed form
///   inside the entry file (written by earlier versions, which still load). A signature file goes once
///   none of its entries is left and their removal is durable; sequences named in it are not given out
///   again;
/// - removed: the entry file is unlinked; ``remove(nonces:)`` syncs the directory once for several, and
///   ``remove(nonce:durably:)`` with `durably: false` leaves the sync to the next durable write or
///   ``sync()``. A removal lost in a crash only brings an entry back that collectors already stored:
///   resent, it is answered `nonce_replayed` with `stored_at`, which counts as its receipt.
/// A resend is not written (``noteResend(sequence:)``): the stored `send_count` of a signed entry is
/// at least 1 already, which is all a restart needs to know.
///
/// Bounded by ``Limits``: entries older than `maximumAge` are dropped, and when a new entry would push
/// the spool over `maximumBytes` the ``OverflowPolicy`` decides which entries go. Every drop is counted
/// and reported through the `report` closure given at creation. Files that cannot be read are moved
/// aside (`*.corrupt`) and reported, never fatal.
public actor EnvelopeSpool {
    /// One queued batch.
    public struct Entry: Sendable, Hashable, Codable {
        /// Position in the queue; increases monotonically, also across restarts.
        public let sequence: UInt64
        /// When the batch entered the spool (ISO 8601 UTC); the age bound counts from here.
        public let enqueuedAt: String
        /// The content to sign: everything of the claims except nonce, key hash and signing time.
        public var batch: UnsignedBatch
        /// The signed form, once a nonce was available; nil while the batch waits for one.
        public var signed: SignedForm?
        /// How often the current signed form was published.
        public var sendCount: Int

        enum CodingKeys: String, CodingKey {
            case sequence
            case enqueuedAt = "enqueued_at"
            case batch, signed
            case sendCount = "send_count"
        }

        /// The nonce of the signed form, if any.
        public var nonce: String? { signed?.nonce }
    }

    /// The unsigned content of an envelope (one definition, in Core).
    public typealias UnsignedBatch = EnvelopeContent

    /// A signed envelope of an entry.
    public struct SignedForm: Sendable, Hashable, Codable {
        /// The exact MQTT payload (JWS flattened JSON).
        public var envelope: String
        public var nonce: String
        /// The nonce's expiry (ISO 8601 UTC); after it the batch must be re-signed.
        public var nonceExpiresAt: String

        enum CodingKeys: String, CodingKey {
            case envelope, nonce
            case nonceExpiresAt = "nonce_expires_at"
        }

        public init(envelope: String, nonce: String, nonceExpiresAt: String) {
            self.envelope = envelope
            self.nonce = nonce
            self.nonceExpiresAt = nonceExpiresAt
        }

        public var nonceExpiry: Date? { Timestamp.date(from: nonceExpiresAt) }
    }

    /// What to drop when a new entry does not fit under `maximumBytes`.
    public enum OverflowPolicy: String, Sendable, Hashable, Codable, CaseIterable {
        /// Drop the oldest entries until the new one fits (keep recent data).
        case dropOldest = "drop_oldest"
        /// Refuse the new entry (keep old data).
        case dropNewest = "drop_newest"
    }

    public struct Limits: Sendable, Hashable {
        public var maximumBytes: Int
        public var maximumAge: Duration
        public var whenFull: OverflowPolicy

        public init(
            maximumBytes: Int = 64 * 1024 * 1024, maximumAge: Duration = .seconds(604_800),
            whenFull: OverflowPolicy = .dropOldest
        ) {
            self.maximumBytes = maximumBytes
            self.maximumAge = maximumAge
            self.whenFull = whenFull
        }
    }

    /// Something the spool did that an operator should know about.
    public enum Event: Sendable, Hashable, CustomStringConvertible {
        /// An entry was dropped: `reason` is "too_old", "full_drop_oldest", "full_drop_newest", or what
        /// ``discard(sequence:reason:)`` was given.
        case dropped(sequence: UInt64, reason: String, samples: Int, enqueuedAt: String)
        /// An unreadable file was moved aside.
        case quarantined(file: String, problem: String)

        public var description: String {
            switch self {
            case .dropped(let sequence, let reason, let samples, let enqueuedAt):
                "dropped spool entry \(sequence) (\(samples) samples, enqueued \(enqueuedAt)): \(reason)"
            case .quarantined(let file, let problem):
                "moved unreadable spool file \(file) aside: \(problem)"
            }
        }
    }

    public nonisolated let directory: URL
    public nonisolated let limits: Limits
    private let report: @Sendable (Event) -> Void
    private var entries: [UInt64: Slot] = [:]
    /// The entry whose stored envelope carries each nonce: receipts are matched by nonce, and a scan of
    /// every entry per removal would make draining a large backlog quadratic.
    private var sequencesByNonce: [String: UInt64] = [:]
    private var nextSequence: UInt64 = 1
    /// Live entries whose current signed form is in each signature file, by file name.
    private var signatureFiles: [String: Set<UInt64>] = [:]
    private var nextGeneration: UInt64 = 1
    /// Files were unlinked since the directory was last synced.
    private var unsyncedRemovals = false
    /// Signature files no live entry uses any more, unlinked only after the directory sync that makes the
    /// removal of their entries durable: a crash must not keep an entry file and lose its signed form (the
    /// batch would be signed again under a new nonce and stored twice).
    private var retiredSignatureFiles: [String] = []

    private struct Slot {
        var entry: Entry
        /// The entry's own file (enqueue state).
        let file: String
        let fileSize: Int
        /// The signature file holding its current signed form, if not the entry file, and its line's size.
        var signatureFile: String?
        var signatureSize = 0

        var size: Int { fileSize + signatureSize }
    }

    /// One line of a signature file.
    struct SignatureLine: Codable {
        var sequence: UInt64
        var signed: SignedForm?
        var sendCount: Int

        enum CodingKeys: String, CodingKey {
            case sequence, signed
            case sendCount = "send_count"
        }
    }
    /// Entries dropped by the bounds since this spool was opened.
    public private(set) var droppedCount = 0

    /// Opens (and creates) the spool directory and loads the entries already there.
    public init(directory: URL, limits: Limits = Limits(), report: @escaping @Sendable (Event) -> Void = { _ in })
        throws(StorageError)
    {
        self.directory = directory
        self.limits = limits
        self.report = report
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError("cannot create spool directory \(directory.path): \(error.localizedDescription)")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw StorageError("cannot list spool directory \(directory.path): \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        var loaded: [UInt64: Slot] = [:]
        var highest: UInt64 = 0
        func quarantine(_ name: String, _ problem: String) {
            let url = directory.appendingPathComponent(name)
            rename(url.path, url.appendingPathExtension("corrupt").path)
            report(.quarantined(file: name, problem: problem))
        }
        for name in names.sorted() where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                quarantine(name, "cannot be read")
                continue
            }
            guard let entry = try? decoder.decode(Entry.self, from: data), loaded[entry.sequence] == nil else {
                quarantine(name, "not a spool entry (or a duplicate sequence)")
                continue
            }
            loaded[entry.sequence] = Slot(entry: entry, file: name, fileSize: data.count)
            highest = max(highest, entry.sequence)
        }
        // Signature files in generation order (the names sort so): a later line wins.
        var generation: UInt64 = 0
        var signatureFiles: [String: Set<UInt64>] = [:]
        for name in names.sorted() where Self.generation(ofSignatureFile: name) != nil {
            generation = max(generation, Self.generation(ofSignatureFile: name) ?? 0)
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                quarantine(name, "cannot be read")
                continue
            }
            var lines: [(line: SignatureLine, size: Int)] = []
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let parsed = try? decoder.decode(SignatureLine.self, from: line) else {
                    lines = []
                    break
                }
                lines.append((parsed, line.count + 1))
            }
            guard !lines.isEmpty else {
                // Written whole or not at all (renamed into place after fsync): this one is damaged.
                quarantine(name, "not a spool signature file")
                continue
            }
            for (line, size) in lines {
                // A line may outlive its entry (removed since): its sequence must never be given out again, or
                // it would attach an old envelope to a new batch at the next start.
                highest = max(highest, line.sequence)
                guard var slot = loaded[line.sequence] else { continue }
                if let previous = slot.signatureFile { signatureFiles[previous]?.remove(line.sequence) }
                slot.entry.signed = line.signed
                slot.entry.sendCount = line.sendCount
                slot.signatureFile = name
                slot.signatureSize = size
                loaded[line.sequence] = slot
                signatureFiles[name, default: []].insert(line.sequence)
            }
            if signatureFiles[name] == nil { signatureFiles[name] = [] }
        }
        for (name, live) in signatureFiles where live.isEmpty {
            unlink(directory.appendingPathComponent(name).path)
        }
        // Leftover temporary files of an interrupted write are incomplete by definition.
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            unlink(directory.appendingPathComponent(name).path)
        }
        self.entries = loaded
        for (sequence, slot) in loaded {
            if let nonce = slot.entry.nonce { sequencesByNonce[nonce] = sequence }
        }
        self.nextSequence = highest + 1
        self.signatureFiles = signatureFiles.filter { !$0.value.isEmpty }
        self.nextGeneration = generation + 1
    }

    /// Entries in queue order (oldest first).
    public func pending() -> [Entry] {
        entries.keys.sorted().compactMap { entries[$0]?.entry }
    }

    public var count: Int { entries.count }

    /// When the oldest batch still in the spool entered it (ISO 8601 UTC); nil when empty.
    public var oldestEnqueuedAt: String? { entries.keys.min().flatMap { entries[$0]?.entry.enqueuedAt } }

    /// Bytes the entry files take.
    public var totalBytes: Int { entries.values.reduce(0) { $0 + $1.size } }

    /// Appends a batch (optionally already signed). Applies the age bound first, then the size
    /// bound; returns nil when the policy refused the new entry (`drop_newest` on a full spool).
    @discardableResult
    public func enqueue(_ batch: UnsignedBatch, signed: SignedForm? = nil, now: Date = Date()) throws(StorageError)
        -> Entry?
    {
        try dropExpired(now: now)
        let entry = Entry(
            sequence: nextSequence, enqueuedAt: Timestamp.string(from: now), batch: batch, signed: signed, sendCount: 0)
        let data = try Self.encode(entry)
        if totalBytes + data.count > limits.maximumBytes {
            switch limits.whenFull {
            case .dropNewest:
                nextSequence += 1
                droppedCount += 1
                report(.dropped(
                    sequence: entry.sequence, reason: "full_drop_newest", samples: batch.metrics.samples.count,
                    enqueuedAt: entry.enqueuedAt))
                return nil
            case .dropOldest:
                for sequence in entries.keys.sorted() where totalBytes + data.count > limits.maximumBytes {
                    try drop(sequence, reason: "full_drop_oldest")
                }
                if data.count > limits.maximumBytes {
                    nextSequence += 1
                    droppedCount += 1
                    report(.dropped(
                        sequence: entry.sequence, reason: "full_drop_newest", samples: batch.metrics.samples.count,
                        enqueuedAt: entry.enqueuedAt))
                    return nil
                }
            }
        }
        let name = Self.fileName(sequence: entry.sequence, enqueuedAt: now)
        try DurableFile.write(data, to: directory.appendingPathComponent(name))
        nextSequence += 1
        entries[entry.sequence] = Slot(entry: entry, file: name, fileSize: data.count)
        directorySynced()
        return entry
    }

    /// Stores the signed forms of entries about to be published, all in one durable write, each with a
    /// send count of 1 (a restart treats them as sent, which they may be). Returns the updated entries, in
    /// the order given; entries no longer in the spool are left out.
    @discardableResult
    public func recordSigned(_ signed: [(sequence: UInt64, signed: SignedForm)]) throws(StorageError) -> [Entry] {
        try storeSigned(signed, sendCount: 1)
    }

    /// Counts one more publication of the entry's current envelope, in memory only: a signed entry was
    /// stored as sent at least once, which is all a restart needs (see ``recordSigned(_:)``).
    @discardableResult
    public func noteResend(sequence: UInt64) -> Entry? {
        guard var slot = entries[sequence] else { return nil }
        slot.entry.sendCount += 1
        entries[sequence] = slot
        return slot.entry
    }

    /// Removes the entry whose envelope carries `nonce` (after its receipt or a definitive rejection).
    /// With `durably: false` the directory sync is left to the next durable write or ``sync()``.
    @discardableResult
    public func remove(nonce: String, durably: Bool = true) throws(StorageError) -> Entry? {
        guard let sequence = sequencesByNonce[nonce], let slot = entries[sequence] else { return nil }
        try remove(sequence: sequence, durably: durably)
        return slot.entry
    }

    /// Removes the entries whose envelopes carry `nonces`, with one directory sync for all of them (none
    /// with `durably: false`, see ``remove(nonce:durably:)``).
    @discardableResult
    public func remove(nonces: some Collection<String>, durably: Bool = true) throws(StorageError) -> [Entry] {
        let slots = Set(nonces).compactMap { sequencesByNonce[$0] }.sorted().compactMap { entries[$0] }
        for slot in slots { try remove(sequence: slot.entry.sequence, durably: false) }
        if durably { try sync() }
        return slots.map(\.entry)
    }

    /// Removes an entry by sequence.
    public func remove(sequence: UInt64, durably: Bool = true) throws(StorageError) {
        guard let slot = entries.removeValue(forKey: sequence) else { return }
        if let nonce = slot.entry.nonce { sequencesByNonce[nonce] = nil }
        let path = directory.appendingPathComponent(slot.file).path
        if unlink(path) != 0, errno != ENOENT {
            throw StorageError.system("unlink \(path)", errno: errno)
        }
        unsyncedRemovals = true
        if let file = slot.signatureFile { release(sequence, from: file) }
        if durably { try sync() }
    }

    /// Makes removals durable that were made with `durably: false`.
    public func sync() throws(StorageError) {
        guard unsyncedRemovals else { return }
        try DurableFile.syncDirectory(directory)
        directorySynced()
    }

    /// The removals made so far are durable: the signature files they retired may go now. Their own
    /// unlinks need no sync (one that comes back without live entries is removed on loading).
    private func directorySynced() {
        unsyncedRemovals = false
        for name in retiredSignatureFiles { unlink(directory.appendingPathComponent(name).path) }
        retiredSignatureFiles.removeAll()
    }

    /// Replaces an entry by smaller batches (one too large to be sent as one envelope), appended in order at
    /// the end of the queue, each under the size bound like a new entry. The new entries are written before
    /// the old one is removed: a crash in between sends those samples twice rather than never. Returns the
    /// new entries; none if the entry is no longer in the spool.
    @discardableResult
    public func split(sequence: UInt64, into batches: [UnsignedBatch], now: Date = Date()) throws(StorageError)
        -> [Entry]
    {
        guard entries[sequence] != nil else { return [] }
        var added: [Entry] = []
        for batch in batches {
            if let entry = try enqueue(batch, now: now) { added.append(entry) }
        }
        try remove(sequence: sequence)
        return added
    }

    /// Removes an entry that can never be sent (e.g. no valid envelope can be made of it), reporting it
    /// as dropped with `reason` and counting it like the other drops.
    public func discard(sequence: UInt64, reason: String) throws(StorageError) {
        try drop(sequence, reason: reason)
    }

    /// Drops entries older than `maximumAge`; returns how many went.
    @discardableResult
    public func dropExpired(now: Date = Date()) throws(StorageError) -> Int {
        let maximumAge =
            Double(limits.maximumAge.components.seconds) + Double(limits.maximumAge.components.attoseconds) / 1e18
        let old = entries.values.filter { slot in
            guard let enqueued = Timestamp.date(from: slot.entry.enqueuedAt) else { return true }
            return now.timeIntervalSince(enqueued) > maximumAge
        }.map(\.entry.sequence).sorted()
        for sequence in old { try drop(sequence, reason: "too_old") }
        return old.count
    }

    // MARK: - Internals

    private func drop(_ sequence: UInt64, reason: String) throws(StorageError) {
        guard let slot = entries[sequence] else { return }
        try remove(sequence: sequence)
        droppedCount += 1
        report(.dropped(
            sequence: sequence, reason: reason, samples: slot.entry.batch.metrics.samples.count,
            enqueuedAt: slot.entry.enqueuedAt))
    }

    /// One signature file for all of `signed` (one fsync, one rename, one directory sync).
    private func storeSigned(
        _ signed: [(sequence: UInt64, signed: SignedForm)], sendCount: Int
    ) throws(StorageError) -> [Entry] {
        let live = signed.filter { entries[$0.sequence] != nil }
        guard !live.isEmpty else { return [] }
        var data = Data()
        var lineSizes: [Int] = []
        for (sequence, form) in live {
            let line: Data
            do {
                line = try WireJSON.encode(SignatureLine(sequence: sequence, signed: form, sendCount: sendCount))
            } catch {
                throw StorageError("cannot encode the signed form of spool entry \(sequence): \(error)")
            }
            data.append(line)
            data.append(UInt8(ascii: "\n"))
            lineSizes.append(line.count + 1)
        }
        let name = Self.signatureFileName(generation: nextGeneration)
        try DurableFile.write(data, to: directory.appendingPathComponent(name))
        nextGeneration += 1
        var updated: [Entry] = []
        for ((sequence, form), lineSize) in zip(live, lineSizes) {
            guard var slot = entries[sequence] else { continue }
            if let previous = slot.signatureFile { release(sequence, from: previous) }
            if let previous = slot.entry.nonce { sequencesByNonce[previous] = nil }
            sequencesByNonce[form.nonce] = sequence
            slot.entry.signed = form
            slot.entry.sendCount = sendCount
            slot.signatureFile = name
            slot.signatureSize = lineSize
            entries[sequence] = slot
            signatureFiles[name, default: []].insert(sequence)
            updated.append(slot.entry)
        }
        // After the new file is in place: a signature file this write retired must not go before it.
        directorySynced()
        return updated
    }

    /// `sequence` no longer takes its signed form from `file`; the file goes once nothing does, after the
    /// next directory sync (see ``retiredSignatureFiles``).
    private func release(_ sequence: UInt64, from file: String) {
        signatureFiles[file]?.remove(sequence)
        if signatureFiles[file]?.isEmpty ?? false {
            signatureFiles[file] = nil
            retiredSignatureFiles.append(file)
        }
    }

    private static func encode(_ entry: Entry) throws(StorageError) -> Data {
        do {
            return try WireJSON.encode(entry)
        } catch {
            throw StorageError("cannot encode spool entry \(entry.sequence): \(error)")
        }
    }

    /// `signed-00000000000000000007.jsonl`: sorts by generation; not `*.json`, so never taken for an entry.
    static func signatureFileName(generation: UInt64) -> String {
        "signed-\(padded(generation)).jsonl"
    }

    static func generation(ofSignatureFile name: String) -> UInt64? {
        guard name.hasPrefix("signed-"), name.hasSuffix(".jsonl") else { return nil }
        return UInt64(name.dropFirst("signed-".count).dropLast(".jsonl".count))
    }

    private static func padded(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// `00000000000000000042-20261121T100000123Z.json`: sorts by sequence, readable by people.
    static func fileName(sequence: UInt64, enqueuedAt: Date) -> String {
        let stamp = Timestamp.string(from: enqueuedAt).filter { $0 != "-" && $0 != ":" && $0 != "." }
        return "\(padded(sequence))-\(stamp).json"
    }
}
