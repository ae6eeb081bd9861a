import Foundation

/// A work directory for `edgeproof demo`, `edgeproof bench` and tests (certificates, configuration, TPM state,
/// spools, records): a fresh one under the system temporary directory, or a chosen one; removed with ``remove()``.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init(prefix: String = "edgeproof") throws {
        let base = FileManager.default.temporaryDirectory
        url = base.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A directory at a chosen place (created if missing), e.g. `edgeproof demo --workdir`.
    public init(at url: URL) throws {
        self.url = url
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public var path: String { url.path }

    public func appending(_ component: String) -> URL {
        url.appendingPathComponent(component)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
