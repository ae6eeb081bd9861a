/// Why the strict reader (``JSONReader``) refused a document: what was wrong, and where.
///
/// `problem` is a short sentence ("duplicate member \"city\"", "trailing comma", "expected a string");
/// `path` names the member or element it was found in, outermost first ("geographic_region", "city").
/// Nothing of the input is echoed but clipped member names.
public struct JSONRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public let problem: String
    /// Member names and `[index]` elements from the document's top down to where the problem is.
    public private(set) var path: [String]
    /// The byte offset in the document, for problems of the grammar.
    public let offset: Int?
    /// About the enclosing object (a duplicate name), not the member being read when it was found.
    var isAboutObject = false

    init(_ problem: String, at offset: Int? = nil) {
        self.problem = problem
        self.path = []
        self.offset = offset
    }

    /// The refusal as one sentence about `document` ("claims", "protected header"):
    /// `duplicate member "city" in claims.geographic_region`. At most a few hundred bytes, however
    /// deep or long the names.
    public func description(in document: String) -> String {
        var location = ""
        for step in path {
            location += step.hasPrefix("[") ? step : "." + step
        }
        var text = "\(problem) in \(document)\(Self.prefix(location, bytes: 160))"
        if let offset { text += " (byte \(offset))" }
        return text
    }

    public var description: String { description(in: "the JSON text") }

    /// The same refusal, found inside member `name` of the enclosing object.
    func inMember(_ name: String) -> JSONRefusal {
        var outer = self
        outer.path.insert(Self.clipped(name), at: 0)
        return outer
    }

    /// The same refusal, placed at the object it is about; outer levels add their member names.
    func outsideMember() -> JSONRefusal {
        var outer = self
        outer.isAboutObject = false
        return outer
    }

    /// The same refusal, found at `codingPath` below the top of the document (the path it has already is
    /// below that).
    func under(_ codingPath: [any CodingKey]) -> JSONRefusal {
        var outer = self
        outer.isAboutObject = false
        let steps = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? Self.clipped(key.stringValue) }
        outer.path.insert(contentsOf: steps, at: 0)
        return outer
    }

    /// The same refusal, found inside element `index` of the enclosing array.
    func inElement(_ index: Int) -> JSONRefusal {
        var outer = self
        outer.path.insert("[\(index)]", at: 0)
        return outer
    }

    /// A member name as it may appear in a message: control characters and quotes escaped, at most
    /// 64 bytes.
    static func clipped(_ name: String) -> String {
        prefix(name.unicodeScalars.map { $0.escaped(asASCII: false) }.joined(), bytes: 64)
    }

    /// `text`, cut on a character boundary to at most `bytes` UTF-8 bytes (an ellipsis included).
    private static func prefix(_ text: String, bytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var cut = ""
        for character in text {
            guard cut.utf8.count + character.utf8.count <= limit - 3 else { break }
            cut.append(character)
        }
        return cut + "…"
    }
}
