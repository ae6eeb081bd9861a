import DequeModule
import EdgeProofCore
import Foundation

/// A durable, bounded first-in first-out queue between two MQTT connections (the gateway's site
/// bridge: one per direction).
///
/// Elements are appended in batches through a ``GroupCommitLog`` on a ``RotatingJSONLinesFile`` (one
/// write and one fsync per batch; ``append(_:now:)`` returns once the batch is on disk), taken in order
/// for sending (``take(max:now:)``), and completed when the other side acknowledged them
/// (``complete(_:)``). What is done is recorded as a cursor, `done_through` = the highest sequence
/// below which everything is done, written with ``DurableFile`` by ``checkpoint()``; closed segment
/// files wholly below it are deleted. After a crash everything above the cursor is sent again: an
/// element can go out twice, never zero times (the receivers de-duplicate: collectors by nonce, agents
/// by correlation data and nonce).
///
/// Bounded by ``Limits``: elements older than `maximumAge` are dropped when they come up, and an append
/// that would push the live bytes over `maximumBytes` drops the oldest waiting elements or the new
/// ones (``EnvelopeSpool/OverflowPolicy``). Every drop is counted by reason (``dropped``) and reported
/// through `report`; never silent. Live elements are also held in memory, so `maximumBytes` bounds the
/// queue's memory as well as its disk.
public actor RelayQueue<Element: Codable & Sendable> {
    public struct Limits: Sendable, Hashable {
        public var maximumBytes: Int
        public var maximumAge: Duration
        public var whenFull: EnvelopeSpool.OverflowPolicy
        /// Segment files rotate at this size (and after `segmentAge`), so done ones can be deleted.
        public var segmentBytes: Int
        public var segmentAge: Duration

        public init(
            maximumBytes: Int = 256 * 1024 * 1024, maximumAge: Duration = .seconds(86_400),
            whenFull: EnvelopeSpool.OverflowPolicy = .dropOldest, segmentBytes: Int = 8 * 1024 * 1024,
            segmentAge: Duration = .seconds(60)
        ) {
            self.maximumBytes = maximumBytes
            self.maximumAge = maximumAge
            self.whenFull = whenFull
            self.segmentBytes = segmentBytes
            self.segmentAge = segmentAge
        }
    }

    /// One queued element.
    public struct Item: Sendable {
        public let sequence: UInt64
        public let enqueuedAt: Date
        public let element: Element
        /// Its line's size on disk, which the byte bound counts.
        public let size: Int
    }

    /// How much waits: for status and the operator.
    public struct Depth: Sendable, Hashable {
        /// Elements not yet done (waiting and being sent).
        public var messages: Int
        public var bytes: Int
        /// Sent and not yet acknowledged.
        public var inFlight: Int
        /// When the oldest element not yet done was enqueued.
        public var oldestEnqueuedAt: Date?
    }

    /// One line of a segment file.
    struct Line: Codable {
        var sequence: UInt64
        var enqueuedAt: Date
        var element: Element

        enum CodingKeys: String, CodingKey {
            case sequence = "seq"
            case enqueuedAt = "at"
            case element = "m"
        }
    }

    struct Cursor: Codable {
        var doneThrough: UInt64
        enum CodingKeys: String, CodingKey { case doneThrough = "done_through" }
    }

    public nonisolated let directory: URL
    public nonisolated let limits: Limits
    /// A tick each time elements were appended (the sender's wake-up), newest only.
    public nonisolated let arrivals: AsyncStream<Void>
    private let arrivalSignal: AsyncStream<Void>.Continuation
    private let log: GroupCommitLog
    /// Checkpoints and closing block on fsync: they run here, not on the cooperative pool.
    private let io = IOThread(label: "edgeproof.relay-queue")
    private let report: @Sendable (String, Int) -> Void
    private var waiting = Deque<Item>()
    private var inFlight: [UInt64: Item] = [:]
    private var liveBytes = 0
    /// First sequences of batches being written (not yet in `waiting`): the cursor must not pass them.
    private var writing: Set<UInt64> = []
    private var nextSequence: UInt64
    private var savedCursor: UInt64
    /// Highest sequence in each closed segment, oldest first: deleted once the cursor passes it.
    private var segments: [(url: URL, last: UInt64)] = []
    /// Drops by reason since this queue was opened.
    public private(set) var dropped: [String: Int] = [:]

    private static var cursorName: String { "cursor.json" }
    private static var segmentPrefix: String { "queue" }

    /// Opens (creating) `directory`, loads what a previous run left above the cursor and starts the
    /// writer. `report(reason, count)` hears of every drop and of unreadable lines ("unreadable").
    public init(
        directory: URL, limits: Limits = Limits(), now: Date = Date(),
        report: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) throws(StorageError) {
        self.directory = directory
        self.limits = limits
        self.report = report
        (arrivals, arrivalSignal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        let file = try RotatingJSONLinesFile(
            directory: directory, prefix: Self.segmentPrefix,
            limits: .init(maximumFileBytes: max(4096, limits.segmentBytes), maximumFileAge: limits.segmentAge))
        let cursorURL = directory.appendingPathComponent(Self.cursorName)
        var cursor: UInt64 = 0
        if let data = FileManager.default.contents(atPath: cursorURL.path) {
            guard let saved = try? JSONDecoder().decode(Cursor.self, from: data) else {
                throw StorageError("\(cursorURL.path) is not a relay queue cursor; move it aside to start over")
            }
            cursor = saved.doneThrough
        }
        savedCursor = cursor
        var highest = cursor
        var loaded = Deque<Item>()
        var unreadable = 0
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        for url in try file.closedFiles() {
            let data: Data
            do {
                data = try Data(contentsOf: url)
            } catch {
                throw StorageError("cannot read \(url.path): \(error.localizedDescription)")
            }
            var last: UInt64 = 0
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let parsed = try? decoder.decode(Line.self, from: line) else {
                    unreadable += 1
                    continue
                }
                last = max(last, parsed.sequence)
                highest = max(highest, parsed.sequence)
                guard parsed.sequence > cursor else { continue }
                loaded.append(Item(sequence: parsed.sequence, enqueuedAt: parsed.enqueuedAt, element: parsed.element, size: line.count + 1))
            }
            segments.append((url, last))
        }
        waiting = Deque(loaded.sorted { $0.sequence < $1.sequence })
        liveBytes = waiting.reduce(0) { $0 + $1.size }
        nextSequence = highest + 1
        log = GroupCommitLog(file: file, maximumBatch: 4096)
        if unreadable > 0 { report("unreadable", unreadable) }
        if !waiting.isEmpty { arrivalSignal.yield() }
    }

    // MARK: - Appending

    /// Appends `elements` in order and returns once they are durable, with how many were taken: all of
    /// them, unless the queue is full under `drop_newest` (the rest are counted as `full_drop_newest`).
    /// Under `drop_oldest` the oldest waiting elements make room (counted as `full_drop_oldest`).
    @discardableResult
    public func append(_ elements: [Element], now: Date = Date()) async throws(StorageError) -> Int {
        guard !elements.isEmpty else { return 0 }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        var items: [Item] = []
        var lines: [Data] = []
        var incoming = 0
        for element in elements {
            let sequence = nextSequence
            let line: Data
            do {
                line = try encoder.encode(Line(sequence: sequence, enqueuedAt: now, element: element))
            } catch {
                throw StorageError("cannot encode a relayed message: \(error)")
            }
            if limits.whenFull == .dropNewest, liveBytes + incoming + line.count + 1 > limits.maximumBytes {
                break
            }
            nextSequence += 1
            incoming += line.count + 1
            lines.append(line)
            items.append(Item(sequence: sequence, enqueuedAt: now, element: element, size: line.count + 1))
        }
        if items.count < elements.count { count("full_drop_newest", elements.count - items.count) }
        guard let first = items.first?.sequence else { return 0 }
        writing.insert(first)
        defer { writing.remove(first) }
        try await log.append(lines: lines)
        var evicted = 0
        while liveBytes + incoming > limits.maximumBytes, let oldest = waiting.popFirst() {
            liveBytes -= oldest.size
            evicted += 1
        }
        if evicted > 0 { count("full_drop_oldest", evicted) }
        // Another append may have finished first (the actor is re-entered while this one was written).
        if let last = waiting.last, last.sequence > first {
            let position = waiting.firstIndex { $0.sequence > first } ?? waiting.endIndex
            waiting.insert(contentsOf: items, at: position)
        } else {
            waiting.append(contentsOf: items)
        }
        liveBytes += incoming
        arrivalSignal.yield()
        return items.count
    }

    // MARK: - Sending

    /// Up to `max` waiting elements, oldest first, now in flight; elements past `maximumAge` are dropped
    /// on the way (`too_old`). Empty when nothing waits.
    public func take(max: Int, now: Date = Date()) -> [Item] {
        var taken: [Item] = []
        var tooOld = 0
        while taken.count < max, let head = waiting.popFirst() {
            if limits.maximumAge > .zero, now.timeIntervalSince(head.enqueuedAt) > limits.maximumAge.timeInterval {
                liveBytes -= head.size
                tooOld += 1
                continue
            }
            inFlight[head.sequence] = head
            taken.append(head)
        }
        if tooOld > 0 { count("too_old", tooOld) }
        return taken
    }

    /// The other side acknowledged these elements.
    public func complete(_ sequences: some Sequence<UInt64>) {
        for sequence in sequences {
            if let item = inFlight.removeValue(forKey: sequence) { liveBytes -= item.size }
        }
    }

    /// These elements in flight will not be delivered (`reason`: refused by the broker, expired); counted.
    public func drop(_ sequences: [UInt64], reason: String) {
        complete(sequences)
        if !sequences.isEmpty { count(reason, sequences.count) }
    }

    /// Elements in flight go back to the head of the queue, in order (a send that did not happen).
    public func putBack(_ sequences: [UInt64]) {
        let items = sequences.compactMap { inFlight.removeValue(forKey: $0) }.sorted { $0.sequence > $1.sequence }
        for item in items { waiting.prepend(item) }
        if !items.isEmpty { arrivalSignal.yield() }
    }

    // MARK: - State

    public var depth: Depth {
        let oldestInFlight = inFlight.values.min { $0.sequence < $1.sequence }
        let oldest = [oldestInFlight, waiting.first].compactMap { $0 }.min { $0.sequence < $1.sequence }
        return Depth(
            messages: waiting.count + inFlight.count, bytes: liveBytes, inFlight: inFlight.count,
            oldestEnqueuedAt: oldest?.enqueuedAt)
    }

    /// Everything at or below this sequence is done.
    var doneThrough: UInt64 {
        let lowestLive = [inFlight.keys.min(), waiting.first?.sequence, writing.min()].compactMap { $0 }.min()
        return (lowestLive ?? nextSequence) - 1
    }

    /// Makes the cursor durable when it moved and deletes the closed segments wholly below it. Call
    /// periodically and before closing; a crash between checkpoints only sends elements again. The file
    /// work (rename, fsync, unlink) runs on the queue's own I/O thread, never on the cooperative pool.
    public func checkpoint(now: Date = Date()) async throws(StorageError) {
        let done = doneThrough
        let cursor: Data?
        if done > savedCursor {
            do {
                cursor = try JSONEncoder().encode(Cursor(doneThrough: done))
            } catch {
                throw StorageError("cannot encode the relay queue cursor: \(error)")
            }
        } else {
            cursor = nil
        }
        let (file, directory, known, through) = (log.file, directory, segments, max(done, savedCursor))
        segments = try await io.run { () throws(StorageError) -> [(url: URL, last: UInt64)] in
            try file.rotateIfDue(now: now)
            if let cursor {
                try DurableFile.write(cursor, to: directory.appendingPathComponent(Self.cursorName), permissions: 0o600)
            }
            var segments = known
            let listed = Set(known.map(\.url))
            for url in try file.closedFiles() where !listed.contains(url) {
                segments.append((url, Self.lastSequence(in: url)))
            }
            guard cursor != nil else { return segments }
            // Every segment wholly done goes; one whose last line could not be read (.max) stays until a
            // restart reads it line by line, without holding back the segments after it.
            let (done, kept) = (segments.filter { $0.last <= through }, segments.filter { $0.last > through })
            for segment in done { try? FileManager.default.removeItem(at: segment.url) }
            if !done.isEmpty { try DurableFile.syncDirectory(directory) }
            return kept
        }
        savedCursor = through
    }

    /// Checkpoints and closes the segment file; later appends fail.
    public func close() async throws(StorageError) {
        try await checkpoint()
        let log = log
        try await io.run { () throws(StorageError) in try log.close() }
        arrivalSignal.finish()
    }

    // MARK: - Internals

    private func count(_ reason: String, _ number: Int) {
        dropped[reason, default: 0] += number
        report(reason, number)
    }

    /// The sequence of a closed segment's last line (segments are written in sequence order), read from
    /// the file's tail only: a segment is megabytes, and reading it whole at every rotation left the
    /// allocator holding that much more each time.
    private static func lastSequence(in url: URL) -> UInt64 {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return .max }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd() else { return .max }
        // The last line is usually a kilobyte or two; a relayed message is at most a 1 MiB MQTT packet.
        var window: UInt64 = 64 * 1024
        while true {
            let start = size > window ? size - window : 0
            try? handle.seek(toOffset: start)
            guard let data = try? handle.readToEnd() else { return .max }
            let lines = data.split(separator: UInt8(ascii: "\n"))
            // The first piece may be cut unless the window reached the start of the file.
            if let line = lines.last, lines.count >= 2 || start == 0 {
                guard let sequence = try? JSONDecoder().decode(SequenceOnly.self, from: line).sequence else {
                    return .max  // unknown: kept until a restart
                }
                return sequence
            }
            guard start > 0, window < 4 * 1024 * 1024 else { return .max }
            window *= 4
        }
    }

    fileprivate struct SequenceOnly: Decodable {
        var sequence: UInt64
        enum CodingKeys: String, CodingKey { case sequence = "seq" }
    }
}

/// A serial dispatch queue for blocking file work (fsync, rename, unlink) awaited from async code.
struct IOThread: Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws(StorageError) -> T) async throws(StorageError) -> T {
        let result: Result<T, StorageError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(StorageError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
