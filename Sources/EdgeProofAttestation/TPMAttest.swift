import Crypto
import Foundation

/// A TPMS_ATTEST (TPM 2.0 Part 2, 10.12.12) of TPM2_Certify or TPM2_Quote, parsed from the bytes the AK signed,
/// which it keeps (the signature is over them).
public struct TPMAttest: Sendable, Equatable {
    /// TPM_GENERATED_VALUE: what the TPM puts first in everything it signs, so an external message that starts
    /// otherwise can never pass for an attestation.
    public static let generatedValue: UInt32 = 0xff54_4347

    /// TPMI_ST_ATTEST.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let certify = Kind(rawValue: 0x8017)
        public static let quote = Kind(rawValue: 0x8018)
        public var description: String {
            switch self {
            case .certify: "certify"
            case .quote: "quote"
            default: "0x" + String(rawValue, radix: 16)
            }
        }
    }

    /// TPMS_CLOCK_INFO: a reset or restart of the TPM shows here.
    public struct ClockInfo: Sendable, Equatable {
        public let clock: UInt64
        public let resetCount: UInt32
        public let restartCount: UInt32
        public let safe: Bool

        public init(clock: UInt64, resetCount: UInt32, restartCount: UInt32, safe: Bool) {
            self.clock = clock
            self.resetCount = resetCount
            self.restartCount = restartCount
            self.safe = safe
        }
    }

    /// TPMS_CERTIFY_INFO: the Name of the certified key and its qualified name.
    public struct CertifyInfo: Sendable, Equatable {
        public let name: Data
        public let qualifiedName: Data
    }

    /// TPMS_QUOTE_INFO: which PCRs were quoted and the digest of their values.
    public struct QuoteInfo: Sendable, Equatable {
        public let selections: [PCRSelection]
        public let pcrDigest: Data

        /// Whether `values`, in selection order (each bank in turn, its PCRs ascending), hash (SHA-256 of their
        /// concatenation, the hash of an ECDSA-SHA256 AK) to `pcrDigest`.
        public func digestMatches(pcrValues values: [Data]) -> Bool {
            let digest = SHA256.hash(data: values.reduce(into: Data()) { $0.append($1) })
            return Data(digest) == pcrDigest
        }
    }

    /// TPMS_PCR_SELECTION: a bank and the indices of the selected PCRs, ascending.
    public struct PCRSelection: Sendable, Equatable {
        public let hash: TPMAlgorithm
        public let pcrs: [Int]

        public init(hash: TPMAlgorithm, pcrs: [Int]) {
            self.hash = hash
            self.pcrs = pcrs.sorted()
        }
    }

    public let kind: Kind
    /// The Name of the signing key's hierarchy-qualified name.
    public let qualifiedSigner: Data
    /// The qualifying data the caller passed (the registrar's nonce).
    public let extraData: Data
    public let clockInfo: ClockInfo
    public let firmwareVersion: UInt64
    /// Set when `kind` is `.certify`.
    public let certify: CertifyInfo?
    /// Set when `kind` is `.quote`.
    public let quote: QuoteInfo?
    /// The TPMS_ATTEST bytes as parsed.
    public let encoded: Data

    /// Parses the TPMS_ATTEST bytes (tpm2-tools' `-m`/`-o` attestation file, ESAPI's TPM2B_ATTEST content).
    public init(_ bytes: some Collection<UInt8>) throws {
        var reader = TPMReader(bytes, structure: "TPMS_ATTEST")
        let magic = try reader.uint32("magic")
        guard magic == Self.generatedValue else {
            throw AttestationError.malformed(
                "TPMS_ATTEST.magic", "0x\(String(magic, radix: 16)), not TPM_GENERATED_VALUE 0xff544347")
        }
        kind = Kind(rawValue: try reader.uint16("type"))
        guard kind == .certify || kind == .quote else {
            throw AttestationError.unsupported("TPMS_ATTEST.type", "\(kind) (only certify and quote)")
        }
        qualifiedSigner = Data(try reader.sized("qualifiedSigner", maximum: 66))
        extraData = Data(try reader.sized("extraData", maximum: 64))
        clockInfo = ClockInfo(
            clock: try reader.uint64("clockInfo.clock"), resetCount: try reader.uint32("clockInfo.resetCount"),
            restartCount: try reader.uint32("clockInfo.restartCount"), safe: try Self.readBool(&reader))
        firmwareVersion = try reader.uint64("firmwareVersion")
        if kind == .certify {
            certify = CertifyInfo(
                name: Data(try reader.sized("attested.certify.name", maximum: 66)),
                qualifiedName: Data(try reader.sized("attested.certify.qualifiedName", maximum: 66)))
            quote = nil
        } else {
            quote = QuoteInfo(
                selections: try Self.readSelections(&reader),
                pcrDigest: Data(try reader.sized("attested.quote.pcrDigest", maximum: 64)))
            certify = nil
        }
        try reader.finish()
        encoded = Data(bytes)
    }

    private static func readBool(_ reader: inout TPMReader) throws -> Bool {
        let value = try reader.uint8("clockInfo.safe")
        guard value <= 1 else { throw AttestationError.malformed("TPMS_ATTEST.clockInfo.safe", "value \(value)") }
        return value == 1
    }

    /// TPML_PCR_SELECTION: a count, then per bank its hash, the size of its bitmap and the bitmap (PCR 8i+j is
    /// bit j of byte i).
    private static func readSelections(_ reader: inout TPMReader) throws -> [PCRSelection] {
        let count = try reader.uint32("attested.quote.pcrSelect.count")
        // TPM 2.0 defines at most HASH_COUNT banks; 16 is generous and stops a hostile count early.
        guard count <= 16 else {
            throw AttestationError.malformed("TPMS_ATTEST.attested.quote.pcrSelect", "\(count) banks")
        }
        return try (0..<count).map { index in
            let hash = TPMAlgorithm(rawValue: try reader.uint16("attested.quote.pcrSelect[\(index)].hash"))
            let size = Int(try reader.uint8("attested.quote.pcrSelect[\(index)].sizeofSelect"))
            guard size <= 4 else {
                throw AttestationError.malformed("TPMS_ATTEST.attested.quote.pcrSelect[\(index)]", "\(size)-byte map")
            }
            let bitmap = try reader.bytes(size, "attested.quote.pcrSelect[\(index)].pcrSelect")
            let pcrs: [Int] = (0..<size * 8).filter { bitmap[$0 / 8] & (1 << ($0 % 8)) != 0 }
            return PCRSelection(hash: hash, pcrs: pcrs)
        }
    }
}
