import Crypto
import EdgeProofCore
import EdgeProofStorage
import Foundation

extension ScaleBenchmark {
    /// What each benchmark allowlist entry carries besides its key.
    public enum Evidence: String, Sendable, CaseIterable, Codable {
        /// Name, key, hash, status, created_at and places only (an operator-configured allowlist).
        case none
        /// A `tpm-ek-cert` trust block as enrollment writes it (some 2.3 KB per agent).
        case trustBlocks = "trust-blocks"
    }

    /// How the measured process loads the allowlist.
    public enum Loader: String, Sendable, CaseIterable, Codable {
        /// As gateways and collectors do: chunked, trust blocks kept as their summary.
        case collector
        /// As they did before trust blocks (for comparison): the whole file in memory, then Foundation's
        /// `JSONDecoder`, every trust block kept.
        case foundationWholeFile = "foundation-whole-file"

        func load(_ file: AllowlistFile) throws -> Allowlist {
            switch self {
            case .collector:
                return try file.load(evidence: .summary)
            case .foundationWholeFile:
                let data = try Data(contentsOf: file.url)
                let allowlist = try Allowlist(try JSONDecoder().decode(AllowlistDocument.self, from: data))
                FreedMemory.release()
                return allowlist
            }
        }
    }

    /// Writes the allowlist as `AllowlistFile.save` lays it out (pretty-printed, sorted keys), one entry at
    /// a time: encoding 100,000 entries with evidence in one piece would take a gigabyte before the
    /// measured process even starts loading.
    static func writeAllowlist(
        _ entries: some Sequence<AllowlistEntry>, to url: URL
    ) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw BenchmarkError("cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var pending = Data("{\n  \"agents\" : [\n".utf8)
        var first = true
        for entry in entries {
            if !first { pending.append(contentsOf: Array(",\n".utf8)) }
            first = false
            pending.append(try encoder.encode(entry))
            if pending.count >= 1 << 20 {
                try handle.write(contentsOf: pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        pending.append(contentsOf: Array("\n  ],\n  \"version\" : 1\n}\n".utf8))
        try handle.write(contentsOf: pending)
    }

    /// A trust block with the sizes of a real one (an RSA-2048 AK and its signatures, an ECC signing key,
    /// eight SHA-256 PCRs, the EK certificate's issuer and serial), random bytes in place of the
    /// structures; each agent gets its own `ek_public_hash` from ``trustBlock(template:ekSeed:)``.
    static func trustBlockTemplate(attestedAt: String) -> TrustBlock {
        func base64(_ count: Int) -> String {
            Data((0..<count).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        }
        func hex(_ count: Int) -> String {
            (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        }
        var pcrs: [String: String] = [:]
        for index in 0..<8 { pcrs["\(index)"] = hex(32) }
        return TrustBlock(
            level: .tpmEKCert, ekPublicHash: PublicKeyHash(subjectPublicKeyInfo: Data(hex(32).utf8)),
            ekIssuer: "CN=Nuvoton TPM Root CA 2111,O=Nuvoton Technology Corporation,C=TW", ekSerial: hex(20),
            tpmVendor: TPMVendorInfo(
                manufacturer: "NTC", manufacturerID: "id:4E544300", vendorString: "NPCT75x",
                firmwareVersion: [458752, 131072],
                specificationRevision: 164),
            akPublic: base64(280), signingKeyPublic: base64(90),
            certify: SignedAttestation(attest: base64(150), signature: base64(262), qualifyingData: hex(32)),
            quote: QuoteEvidence(attest: base64(145), signature: base64(262), qualifyingData: hex(32), pcrValues: pcrs),
            executableDigest: hex(32), kernelRelease: "6.8.0-49-generic", enrolledAt: attestedAt,
            attestedAt: attestedAt,
            approvedBy: "operator:bench")
    }

    static func trustBlock(template: TrustBlock, ekSeed: Int) -> TrustBlock {
        var block = template
        block.ekPublicHash = PublicKeyHash(subjectPublicKeyInfo: Data("bench-ek-\(ekSeed)".utf8))
        return block
    }
}
