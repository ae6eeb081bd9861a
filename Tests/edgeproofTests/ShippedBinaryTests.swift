import EdgeProofTesting
import Foundation
import Testing

/// The shipped binary is product code only: the test kit (the fuzz corpus, process watchers for tests) must not
/// be linked into it (issue 12).
@Suite("The edgeproof binary")
struct ShippedBinaryTests {
    @Test("links no test fixture: no BadPayloads, ServiceProcess or EdgeProofTesting symbol, but the local stack")
    func linksNoTestFixtures() throws {
        let executable = PackagePaths.edgeproofExecutable
        let result = try ProcessRunner.run("nm", [executable])
        try #require(result.status == 0, "nm \(executable) exited \(result.status): \(result.standardError)")
        let symbols = result.output.split(separator: "\n")
        // A stripped or foreign binary would pass the check below vacuously: demand what `edgeproof demo` links.
        #expect(symbols.contains { $0.contains("MosquittoBroker") }, "\(executable) has no MosquittoBroker symbol")
        for fixture in ["EdgeProofTesting", "BadPayloads", "ServiceProcess"] {
            let found = symbols.filter { $0.contains(fixture) }
            #expect(found.count == 0, "\(executable) links \(fixture) symbols, e.g. \(found.prefix(3))")
        }
    }
}
