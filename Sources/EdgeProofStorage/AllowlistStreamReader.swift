import EdgeProofCore
import Foundation

/// Reads a JSON allowlist a chunk at a time, so that loading holds the resulting allowlist and one
/// chunk, not the file, its parse and the evidence nobody keeps (100,000 entries with trust blocks are
/// some 300 MB of JSON).
///
/// A small scanner splits the top-level object into its members and the `agents` array into its
/// elements; each element is then read alone by ``StrictJSONDecoder``, and the other members together
/// as a document without agents. The scanner refuses what the strict reader refuses of the structure
/// it sees itself (anything but one object, a member name twice after unescaping, trailing commas,
/// anything after the object, nesting deeper than ``JSONNesting/maximumDepth``), so a file is accepted
/// or refused exactly as ``AllowlistFile/parse(_:evidence:)`` reading it whole would.
struct AllowlistStreamReader {
    static let chunkBytes = 1 << 20
    static let entriesToEstimateFrom = 512

    private var source: ChunkSource
    private let decoder: StrictJSONDecoder
    /// The bytes of the member name or value being read.
    private var piece: [UInt8] = []
    /// Open brackets of the value being read, innermost last.
    private var open: [UInt8] = []

    /// The file's size, to size the list of agents from the first ones (0: unknown).
    private let expectedBytes: Int

    init(source: ChunkSource, evidence: AllowlistEntry.EvidenceReading, expectedBytes: Int = 0) {
        self.source = source
        self.expectedBytes = expectedBytes
        decoder = StrictJSONDecoder(userInfo: [AllowlistEntry.evidenceReading: evidence])
    }

    /// The document; throws the problem as one sentence naming the entry (`agents[12].public_key`).
    mutating func read() throws(AllowlistReadProblem) -> AllowlistDocument {
        var agents: [AllowlistEntry] = []
        var places = Set<[AllowedPlace]>()
        var names = Set<String>()
        var others: [UInt8] = [UInt8(ascii: "{")]
        try skipWhitespace()
        try expect(UInt8(ascii: "{"), "expected an object")
        try skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            source.advance()
        } else {
            while true {
                let nameStart = source.offset
                let rawName = try readString()
                let name = try decodePiece(String.self, at: nameStart, path: [])
                guard names.insert(name).inserted else {
                    throw AllowlistReadProblem(
                        problem: "duplicate member \"\(clippedName(name))\"", path: [], offset: nameStart)
                }
                try skipWhitespace()
                try expect(UInt8(ascii: ":"), "expected ':'")
                try skipWhitespace()
                if name == "agents", try peek() == UInt8(ascii: "[") {
                    source.advance()
                    try readAgents(into: &agents, places: &places)
                } else {
                    try readValue(depth: 1)
                    if others.count > 1 { others.append(UInt8(ascii: ",")) }
                    others += rawName
                    others.append(UInt8(ascii: ":"))
                    others += piece
                }
                try skipWhitespace()
                let next = try take()
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw unexpected("expected ',' or '}'", at: source.offset - 1) }
                try skipWhitespace()
                guard try peek() == UInt8(ascii: "\"") else {
                    throw unexpected(
                        try peek() == UInt8(ascii: "}") ? "trailing comma" : "expected a string", at: source.offset)
                }
            }
        }
        try skipWhitespace()
        if try source.peekByte() != nil {
            throw unexpected("more after the top-level value", at: source.offset)
        }
        others.append(UInt8(ascii: "}"))
        var document: AllowlistDocument
        do {
            document = try decoder.decode(AllowlistDocument.self, from: others)
        } catch {
            // Offsets in this small document are not the file's.
            throw AllowlistReadProblem(problem: error.problem, path: error.path, offset: nil)
        }
        document.agents = agents
        return document
    }

    /// The elements of `agents`, the opening bracket read.
    private mutating func readAgents(
        into agents: inout [AllowlistEntry], places: inout Set<[AllowedPlace]>
    ) throws(AllowlistReadProblem) {
        try skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            source.advance()
            return
        }
        while true {
            let start = source.offset
            try readValue(depth: 2)
            var entry = try decodePiece(AllowlistEntry.self, at: start, path: ["agents", "[\(agents.count)]"])
            // As AllowlistDocument's decoder does: each set of places is held once.
            entry.allowedPlaces = places.insert(entry.allowedPlaces).memberAfterInsert
            agents.append(entry)
            if agents.count == Self.entriesToEstimateFrom, expectedBytes > source.offset {
                // An entry takes hundreds of bytes in the array (its trust block's fields are inline, even
                // when nil): one grown by doubling would keep up to half as many again unused, for good.
                let estimate = Double(expectedBytes) / Double(source.offset) * Double(agents.count) * 1.01
                agents.reserveCapacity(Int(estimate))
            }
            try skipWhitespace()
            let next = try take()
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw unexpected("expected ',' or ']'", at: source.offset - 1) }
            try skipWhitespace()
            if try peek() == UInt8(ascii: "]") { throw unexpected("trailing comma", at: source.offset) }
        }
    }

    private func decodePiece<T: Decodable>(
        _ type: T.Type, at start: Int, path: [String]
    ) throws(AllowlistReadProblem) -> T {
        do {
            return try decoder.decode(T.self, from: piece)
        } catch {
            throw AllowlistReadProblem(
                problem: error.problem, path: path + error.path, offset: error.offset.map { start + $0 })
        }
    }

    // MARK: Scanning

    /// Captures one value into ``piece``: a string, a bracketed value up to its matching bracket, or a
    /// scalar up to the next delimiter. Only the structure is checked here; the strict reader checks
    /// the rest when the piece is decoded. `depth`: the levels around the value.
    private mutating func readValue(depth: Int) throws(AllowlistReadProblem) {
        open.removeAll(keepingCapacity: true)
        source.startCapture(into: &piece)
        repeat {
            let byte = try take()
            switch byte {
            case UInt8(ascii: "\""):
                try skipStringRest()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                open.append(byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                guard depth + open.count <= JSONNesting.maximumDepth else {
                    throw unexpected("nesting deeper than \(JSONNesting.maximumDepth) levels", at: source.offset - 1)
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard open.last == byte else {
                    throw unexpected("unexpected '\(Character(Unicode.Scalar(byte)))'", at: source.offset - 1)
                }
                open.removeLast()
            default:
                if open.isEmpty {
                    // A scalar: up to the next delimiter.
                    while let next = try source.peekByte(), !Self.endsScalar(next) {
                        source.advance()
                    }
                }
            }
        } while !open.isEmpty
        source.endCapture(into: &piece)
    }

    private static func endsScalar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: " "), UInt8(ascii: "\t"),
            UInt8(ascii: "\n"), UInt8(ascii: "\r"):
            true
        default: false
        }
    }

    /// A member name into ``piece`` (returned too).
    private mutating func readString() throws(AllowlistReadProblem) -> [UInt8] {
        guard try peek() == UInt8(ascii: "\"") else { throw unexpected("expected a string", at: source.offset) }
        source.startCapture(into: &piece)
        source.advance()
        try skipStringRest()
        source.endCapture(into: &piece)
        return piece
    }

    /// Past the rest of a string whose opening quote was read, through its closing quote.
    private mutating func skipStringRest() throws(AllowlistReadProblem) {
        guard try source.skipStringRest() else { throw unexpected("unexpected end of input", at: source.offset) }
    }

    private mutating func skipWhitespace() throws(AllowlistReadProblem) {
        while let byte = try source.peekByte(),
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\t")
        {
            source.advance()
        }
    }

    private mutating func expect(_ byte: UInt8, _ problem: String) throws(AllowlistReadProblem) {
        guard try take() == byte else { throw unexpected(problem, at: source.offset - 1) }
    }

    private mutating func peek() throws(AllowlistReadProblem) -> UInt8 {
        guard let byte = try source.peekByte() else { throw unexpected("unexpected end of input", at: source.offset) }
        return byte
    }

    private mutating func take() throws(AllowlistReadProblem) -> UInt8 {
        let byte = try peek()
        source.advance()
        return byte
    }

    private func unexpected(_ problem: String, at offset: Int) -> AllowlistReadProblem {
        AllowlistReadProblem(problem: problem, path: [], offset: offset)
    }
}

/// A member name as a message shows it: escaped, at most 64 characters.
private func clippedName(_ name: String) -> String {
    let escaped = name.unicodeScalars.map { $0.escaped(asASCII: false) }.joined()
    return escaped.count > 64 ? escaped.prefix(61) + "..." : escaped
}

/// Why an allowlist's JSON was refused: the problem, where (`agents`, `[12]`, `public_key`) and the
/// byte offset in the file when known. Both ways of reading the file describe it alike.
struct AllowlistReadProblem: Error, CustomStringConvertible {
    var problem: String
    var path: [String]
    var offset: Int?

    init(problem: String, path: [String], offset: Int?) {
        self.problem = problem
        self.path = path
        self.offset = offset
    }

    init(_ refusal: JSONRefusal) {
        self.init(problem: refusal.problem, path: refusal.path, offset: refusal.offset)
    }

    var description: String {
        var location = ""
        for step in path {
            location += step.hasPrefix("[") || location.isEmpty ? step : "." + step
        }
        var text = problem
        if !location.isEmpty { text += " at \(location)" }
        if let offset { text += " (byte \(offset))" }
        return text
    }
}

/// The file's bytes a chunk at a time, with the offset of the next byte in the whole file.
struct ChunkSource {
    private let handle: FileHandle
    private var chunk: [UInt8]
    private var index = 0
    /// Bytes before ``chunk``.
    private var consumed = 0
    private var finished: Bool
    /// Where in ``chunk`` the bytes being captured start; nil when not capturing.
    private var captureStart: Int?
    /// Captured bytes of earlier chunks.
    private var captured: [UInt8] = []

    private let chunkBytes: Int

    init(handle: FileHandle, chunkBytes: Int = AllowlistStreamReader.chunkBytes) {
        self.handle = handle
        self.chunkBytes = chunkBytes
        chunk = []
        finished = false
    }

    var offset: Int { consumed + index }

    @inline(__always)
    mutating func peekByte() throws(AllowlistReadProblem) -> UInt8? {
        if index < chunk.count { return chunk[index] }
        guard try refill() else { return nil }
        return chunk[index]
    }

    /// Past the byte ``peekByte()`` returned.
    @inline(__always)
    mutating func advance() {
        index += 1
    }

    /// Starts keeping the bytes from the next one on, for ``endCapture(into:)``; `buffer` lends its storage.
    mutating func startCapture(into buffer: inout [UInt8]) {
        swap(&captured, &buffer)
        captured.removeAll(keepingCapacity: true)
        captureStart = index
    }

    /// The bytes since ``startCapture(into:)`` into `buffer`.
    mutating func endCapture(into buffer: inout [UInt8]) {
        if let captureStart { captured += chunk[captureStart..<index] }
        captureStart = nil
        swap(&captured, &buffer)
    }

    /// Past the rest of a string through its closing quote (a quote after a backslash does not close it);
    /// false when the input ends first. Strings are most of an allowlist: this is the scanner's loop.
    mutating func skipStringRest() throws(AllowlistReadProblem) -> Bool {
        var escaped = false
        while true {
            while index < chunk.count {
                let byte = chunk[index]
                index += 1
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\"") {
                    return true
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                }
            }
            guard try refill() else { return false }
        }
    }

    private mutating func refill() throws(AllowlistReadProblem) -> Bool {
        guard !finished else { return false }
        let next: Data?
        do {
            next = try handle.read(upToCount: chunkBytes)
        } catch {
            throw AllowlistReadProblem(problem: "cannot read: \(error)", path: [], offset: nil)
        }
        if let captureStart {
            captured += chunk[captureStart...]
            self.captureStart = 0
        }
        consumed += chunk.count
        index = 0
        guard let next, !next.isEmpty else {
            chunk = []
            finished = true
            return false
        }
        chunk = [UInt8](next)
        return true
    }
}
