import EdgeProofCore
import Foundation
import Yams

/// The allowlist on disk, JSON or YAML by file extension (`.json`, `.yaml`/`.yml`), shared by
/// gateway, collectors and the `edgeproof allowlist` commands.
public struct AllowlistFile: Sendable {
    public enum Format: Sendable {
        case json
        case yaml
    }

    public let url: URL

    public init(url: URL) {
        self.url = url
    }

    public init(path: String) {
        self.init(url: URL(fileURLWithPath: path))
    }

    public var format: Format {
        switch url.pathExtension.lowercased() {
        case "yaml", "yml": .yaml
        default: .json
        }
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: url.path) }

    /// Reads and validates the file, with all of its evidence (the operator commands). A missing file is an
    /// error; see ``loadOrEmpty()``.
    public func load() throws(StorageError) -> Allowlist {
        try load(evidence: .full)
    }

    /// Reads and validates the file, keeping as much of each trust block as `evidence` says (gateways and
    /// collectors keep the summary). JSON is read a chunk at a time (``AllowlistStreamReader``), so that
    /// loading takes little more than the allowlist it returns; YAML is read whole (large allowlists
    /// should be JSON).
    public func load(evidence: AllowlistEntry.EvidenceReading) throws(StorageError) -> Allowlist {
        let document: AllowlistDocument
        switch format {
        case .json:
            let handle = try reading { try FileHandle(forReadingFrom: url) }
            defer { try? handle.close() }
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            var reader = AllowlistStreamReader(
                source: ChunkSource(handle: handle), evidence: evidence, expectedBytes: size)
            do {
                document = try reader.read()
            } catch {
                throw StorageError("allowlist \(url.path) is malformed: \(error)")
            }
        case .yaml:
            document = try decode(try reading { try Data(contentsOf: url) }, evidence: evidence)
        }
        let allowlist = try validate(try withFences(document))
        if allowlist.count > Self.manyAgents {
            // Decoding leaves freed parser memory that the allocator keeps; hand it back, so the
            // collector's resident size is its allowlist, not its parse.
            FreedMemory.release()
        }
        return allowlist
    }

    static let manyAgents = 1000

    private func reading<T>(_ open: () throws -> T) throws(StorageError) -> T {
        do {
            return try open()
        } catch {
            throw StorageError("cannot read allowlist \(url.path): \(Self.readProblem(error))")
        }
    }

    /// As ``load()``, but a file that does not exist yet is an empty allowlist (for `allowlist add`).
    public func loadOrEmpty() throws(StorageError) -> Allowlist {
        exists ? try load() : Allowlist()
    }

    /// Parses file content in this file's format, whole, and validates it. JSON is read by the strict
    /// reader (``StrictJSONDecoder``): a member twice, a trailing comma or anything after the object is
    /// refused, as the chunked reader refuses it.
    public func parse(
        _ data: Data, evidence: AllowlistEntry.EvidenceReading = .full
    ) throws(StorageError) -> Allowlist {
        try validate(try withFences(try decode(data, evidence: evidence)))
    }

    /// `document` with each `fence_file` read, relative to this file's directory, as strict GeoJSON.
    private func withFences(_ document: AllowlistDocument) throws(StorageError) -> AllowlistDocument {
        var document = document
        let directory = url.deletingLastPathComponent()
        do {
            try document.resolveFenceFiles { (path: String) throws(GeofenceError) -> Geofence in
                let file = path.hasPrefix("/") ? URL(fileURLWithPath: path) : directory.appendingPathComponent(path)
                let data: Data
                do {
                    data = try Data(contentsOf: file)
                } catch {
                    throw GeofenceError("cannot read \(file.path): \(Self.readProblem(error))")
                }
                return try Geofence(parsing: data)
            }
        } catch {
            throw StorageError("allowlist \(url.path) is invalid: \(error)")
        }
        return document
    }

    private func decode(
        _ data: Data, evidence: AllowlistEntry.EvidenceReading
    ) throws(StorageError) -> AllowlistDocument {
        do {
            switch format {
            case .json:
                let decoder = StrictJSONDecoder(userInfo: [AllowlistEntry.evidenceReading: evidence])
                do {
                    return try decoder.decode(AllowlistDocument.self, from: data)
                } catch {
                    throw AllowlistReadProblem(error)
                }
            case .yaml:
                // Invalid UTF-8 is refused, never repaired into another text.
                guard let text = String(data: data, encoding: .utf8) else { throw NotUTF8() }
                return try PlainYAML.decode(
                    AllowlistDocument.self, from: text, userInfo: [AllowlistEntry.evidenceReading: evidence])
            }
        } catch let error as DecodingError {
            throw StorageError("allowlist \(url.path) is malformed: \(DecodingProblem.describe(error))")
        } catch {
            throw StorageError("allowlist \(url.path) is malformed: \(error)")
        }
    }

    private func validate(_ document: AllowlistDocument) throws(StorageError) -> Allowlist {
        do {
            return try Allowlist(document)
        } catch {
            throw StorageError("allowlist \(url.path) is invalid: \(error)")
        }
    }

    /// Writes the allowlist atomically (readers reloading on change never see half a file).
    public func save(_ allowlist: Allowlist) throws(StorageError) {
        let data: Data
        do {
            switch format {
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                data = try encoder.encode(allowlist.document) + Data("\n".utf8)
            case .yaml:
                data = Data(try YAMLEncoder().encode(allowlist.document).utf8)
            }
        } catch {
            throw StorageError("cannot encode allowlist: \(error)")
        }
        try DurableFile.write(data, to: url)
    }

    private static func readProblem(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain,
            [NSFileReadNoSuchFileError, NSFileNoSuchFileError].contains(nsError.code)
        {
            return "no such file"
        }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
            underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}

private struct NotUTF8: Error, CustomStringConvertible {
    var description: String { "not UTF-8" }
}
