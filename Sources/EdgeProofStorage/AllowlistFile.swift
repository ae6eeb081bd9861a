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

    /// Reads and validates the file. A missing file is an error; see ``loadOrEmpty()``.
    public func load() throws(StorageError) -> Allowlist {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw StorageError("cannot read allowlist \(url.path): \(Self.readProblem(error))")
        }
        let allowlist = try parse(data)
        if data.count > Self.largeFileBytes {
            // Decoding a large file leaves many megabytes of freed parser memory that the allocator
            // keeps; hand it back, so the collector's resident size is its allowlist, not its parse.
            FreedMemory.release()
        }
        return allowlist
    }

    static let largeFileBytes = 1 << 20

    /// As ``load()``, but a file that does not exist yet is an empty allowlist (for `allowlist add`).
    public func loadOrEmpty() throws(StorageError) -> Allowlist {
        exists ? try load() : Allowlist()
    }

    /// Parses file content in this file's format and validates it.
    public func parse(_ data: Data) throws(StorageError) -> Allowlist {
        let document: AllowlistDocument
        do {
            switch format {
            case .json: document = try JSONDecoder().decode(AllowlistDocument.self, from: data)
            case .yaml:
                // Invalid UTF-8 is refused, never repaired into another text.
                guard let text = String(data: data, encoding: .utf8) else { throw NotUTF8() }
                document = try PlainYAML.decode(AllowlistDocument.self, from: text)
            }
        } catch let error as DecodingError {
            throw StorageError("allowlist \(url.path) is malformed: \(DecodingProblem.describe(error))")
        } catch {
            throw StorageError("allowlist \(url.path) is malformed: \(error)")
        }
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
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError { return "no such file" }
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
