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
/// Bounded by ``Limits``: entries older than `maxAge` are dropped, and when a new entry would push
/// the spool over `maxBytes` the ``OverflowPolicy`` decides which entries go. Every drop is counted
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

    /// What to drop when a new entry does not fit under `maxBytes`.
    public enum OverflowPolicy: String, Sendable, Hashable, Codable, CaseIterable {
        /// Drop the oldest entries until the new one fits (keep recent data).
        case dropOldest = "drop_oldest"
        /// Refuse the new entry (keep old data).
        case dropNewest = "drop_newest"
    }

    public struct Limits: Sendable, Hashable {
        public var maxBytes: Int
        public var maxAge: Duration
        public var whenFull: OverflowPolicy

        public init(maxBytes: Int = 64 * 1024 * 1024, maxAge: Duration = .seconds(604_800), whenFull: OverflowPolicy = .dropOldest) {
            self.maxBytes = maxBytes
            self.maxAge = maxAge
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
    private var entries: [UInt64: (entry: Entry, file: String, size: Int)] = [:]
    private var nextSequence: UInt64 = 1
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
        var loaded: [UInt64: (entry: Entry, file: String, size: Int)] = [:]
        var highest: UInt64 = 0
        for name in names.sorted() where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            let problem: String
            if let data = FileManager.default.contents(atPath: url.path) {
                if let entry = try? decoder.decode(Entry.self, from: data), loaded[entry.sequence] == nil {
                    loaded[entry.sequence] = (entry, name, data.count)
                    highest = max(highest, entry.sequence)
                    continue
                }
                problem = "not a spool entry (or a duplicate sequence)"
            } else {
                problem = "cannot be read"
            }
            let aside = url.appendingPathExtension("corrupt")
            rename(url.path, aside.path)
            report(.quarantined(file: name, problem: problem))
        }
        // Leftover temporary files of an interrupted write are incomplete by definition.
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            unlink(directory.appendingPathComponent(name).path)
        }
        self.entries = loaded
        self.nextSequence = highest + 1
    }

    /// Entries in queue order (oldest first).
    public func pending() -> [Entry] {
        entries.keys.sorted().compactMap { entries[$0]?.entry }
    }

    public var count: Int { entries.count }

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
        if totalBytes + data.count > limits.maxBytes {
            switch limits.whenFull {
            case .dropNewest:
                nextSequence += 1
                droppedCount += 1
                report(.dropped(
                    sequence: entry.sequence, reason: "full_drop_newest", samples: batch.metrics.samples.count,
                    enqueuedAt: entry.enqueuedAt))
                return nil
            case .dropOldest:
                for sequence in entries.keys.sorted() where totalBytes + data.count > limits.maxBytes {
                    try drop(sequence, reason: "full_drop_oldest")
                }
                if data.count > limits.maxBytes {
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
        entries[entry.sequence] = (entry, name, data.count)
        return entry
    }

    /// Stores a (new) signed form for an entry, e.g. after re-signing with a fresh nonce; resets its
    /// send count. Returns the updated entry, nil if it is no longer in the spool.
    @discardableResult
    public func replaceEnvelope(sequence: UInt64, with signed: SignedForm) throws(StorageError) -> Entry? {
        try update(sequence) { entry in
            entry.signed = signed
            entry.sendCount = 0
        }
    }

    /// Counts one more publication of the entry's current envelope (persisted, so a restart knows the
    /// envelope already went out once).
    @discardableResult
    public func recordSend(sequence: UInt64) throws(StorageError) -> Entry? {
        try update(sequence) { $0.sendCount += 1 }
    }

    /// Removes the entry whose envelope carries `nonce` (after its receipt or a definitive rejection).
    @discardableResult
    public func remove(nonce: String) throws(StorageError) -> Entry? {
        guard let slot = entries.values.first(where: { $0.entry.nonce == nonce }) else { return nil }
        try remove(sequence: slot.entry.sequence)
        return slot.entry
    }

    /// Removes an entry by sequence.
    public func remove(sequence: UInt64) throws(StorageError) {
        guard let slot = entries.removeValue(forKey: sequence) else { return }
        let path = directory.appendingPathComponent(slot.file).path
        if unlink(path) != 0, errno != ENOENT {
            throw StorageError.system("unlink \(path)", errno: errno)
        }
        try DurableFile.syncDirectory(directory)
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

    /// Drops entries older than `maxAge`; returns how many went.
    @discardableResult
    public func dropExpired(now: Date = Date()) throws(StorageError) -> Int {
        let maxAge = Double(limits.maxAge.components.seconds) + Double(limits.maxAge.components.attoseconds) / 1e18
        let old = entries.values.filter { slot in
            guard let enqueued = Timestamp.date(from: slot.entry.enqueuedAt) else { return true }
            return now.timeIntervalSince(enqueued) > maxAge
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

    private func update(_ sequence: UInt64, _ change: (inout Entry) -> Void) throws(StorageError) -> Entry? {
        guard var slot = entries[sequence] else { return nil }
        change(&slot.entry)
        let data = try Self.encode(slot.entry)
        try DurableFile.write(data, to: directory.appendingPathComponent(slot.file))
        slot.size = data.count
        entries[sequence] = slot
        return slot.entry
    }

    private static func encode(_ entry: Entry) throws(StorageError) -> Data {
        do {
            return try WireJSON.encode(entry)
        } catch {
            throw StorageError("cannot encode spool entry \(entry.sequence): \(error)")
        }
    }

    /// `00000000000000000042-20261121T100000123Z.json`: sorts by sequence, readable by people.
    static func fileName(sequence: UInt64, enqueuedAt: Date) -> String {
        let digits = String(sequence)
        let padded = String(repeating: "0", count: max(0, 20 - digits.count)) + digits
        let stamp = Timestamp.string(from: enqueuedAt).filter { $0 != "-" && $0 != ":" && $0 != "." }
        return "\(padded)-\(stamp).json"
    }
}
