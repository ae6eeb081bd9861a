import Foundation

/// Reads TPM-marshalled bytes: big-endian integers and TPM2B (UInt16 size, then the bytes). Every read names the
/// field, so a short or inconsistent buffer reports exactly where it broke.
struct TPMReader {
    private let bytes: [UInt8]
    private(set) var offset = 0
    let structure: String

    init(_ data: some Collection<UInt8>, structure: String) {
        self.bytes = Array(data)
        self.structure = structure
    }

    var remaining: Int { bytes.count - offset }

    mutating func bytes(_ count: Int, _ field: String) throws -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw AttestationError.malformed(
                "\(structure).\(field)", "needs \(count) bytes at offset \(offset), \(remaining) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func uint8(_ field: String) throws -> UInt8 { try bytes(1, field)[0] }

    mutating func uint16(_ field: String) throws -> UInt16 {
        try bytes(2, field).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func uint32(_ field: String) throws -> UInt32 {
        try bytes(4, field).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64(_ field: String) throws -> UInt64 {
        try bytes(8, field).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A TPM2B: its UInt16 size, then that many bytes, at most `maximum`.
    mutating func sized(_ field: String, maximum: Int = Int(UInt16.max)) throws -> [UInt8] {
        let size = Int(try uint16("\(field).size"))
        guard size <= maximum else {
            throw AttestationError.malformed("\(structure).\(field)", "size \(size) exceeds \(maximum)")
        }
        return try bytes(size, field)
    }

    /// Refuses bytes after the structure: a parser that ignored them would accept two encodings of one value.
    func finish() throws {
        guard remaining == 0 else {
            throw AttestationError.malformed(structure, "\(remaining) trailing bytes after offset \(offset)")
        }
    }
}

/// Writes TPM-marshalled bytes (big-endian) for the structures a verifier produces.
struct TPMWriter {
    private(set) var bytes: [UInt8] = []

    mutating func uint16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xff)] }

    mutating func uint32(_ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    mutating func raw(_ data: some Sequence<UInt8>) { bytes += data }

    /// A TPM2B; callers keep the content below 64 KiB (every TPM2B this module writes is a few hundred bytes).
    mutating func sized(_ data: some Collection<UInt8>) {
        precondition(data.count <= Int(UInt16.max), "TPM2B content of \(data.count) bytes")
        uint16(UInt16(data.count))
        bytes += data
    }
}
