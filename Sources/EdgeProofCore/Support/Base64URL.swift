import Foundation

/// Base64url without padding (RFC 7515 §2), strict on decode: any character outside the
/// alphabet, padding, or an impossible length is rejected rather than skipped.
///
/// Table-driven over the bytes, with no trip through `String` replacements or Foundation's base64:
/// every envelope decodes three of these on the collector's hot path.
public enum Base64URL {
    public static func encode(_ bytes: some DataProtocol) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ encode($0) }) { return text }
        return Array(bytes).withUnsafeBufferPointer { encode($0) }
    }

    /// Returns nil when `text` is not canonical unpadded base64url.
    public static func decode(_ text: some StringProtocol) -> Data? {
        var text = String(text)
        return text.withUTF8 { decodeBytes($0) }.map { Data($0) }
    }

    static func encode(_ input: UnsafeBufferPointer<UInt8>) -> String {
        let count = input.count / 3 * 4 + (input.count % 3 == 0 ? 0 : input.count % 3 + 1)
        return String(unsafeUninitializedCapacity: count) { output in
            alphabet.withUnsafeBufferPointer { alphabet in encode(input, into: output, alphabet: alphabet) }
        }
    }

    private static func encode(
        _ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>,
        alphabet: UnsafeBufferPointer<UInt8>
    ) -> Int {
        var read = 0
        var written = 0
        while read + 3 <= input.count {
            let group = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8 | UInt32(input[read + 2])
            output[written] = alphabet[Int(group >> 18)]
            output[written + 1] = alphabet[Int(group >> 12 & 0x3f)]
            output[written + 2] = alphabet[Int(group >> 6 & 0x3f)]
            output[written + 3] = alphabet[Int(group & 0x3f)]
            read += 3
            written += 4
        }
        switch input.count - read {
        case 1:
            let group = UInt32(input[read]) << 16
            output[written] = alphabet[Int(group >> 18)]
            output[written + 1] = alphabet[Int(group >> 12 & 0x3f)]
            written += 2
        case 2:
            let group = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8
            output[written] = alphabet[Int(group >> 18)]
            output[written + 1] = alphabet[Int(group >> 12 & 0x3f)]
            output[written + 2] = alphabet[Int(group >> 6 & 0x3f)]
            written += 3
        default:
            break
        }
        return written
    }

    /// Decodes canonical unpadded base64url: nil for a length of 4n+1, a byte outside the alphabet
    /// (padding included), or non-zero unused bits in the last character, so that one byte string
    /// has exactly one encoding.
    static func decodeBytes(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let tail = input.count % 4
        guard tail != 1 else { return nil }
        let count = input.count / 4 * 3 + (tail == 0 ? 0 : tail - 1)
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            initialized = values.withUnsafeBufferPointer { values in
                decode(input, into: output, values: values, valid: &valid)
            }
        }
        return valid ? bytes : nil
    }

    /// Writes the decoded bytes and returns their count; clears `valid` when `input` is not canonical.
    private static func decode(
        _ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>,
        values: UnsafeBufferPointer<UInt8>, valid: inout Bool
    ) -> Int {
        let tail = input.count % 4
        var read = 0
        var written = 0
        while read + 4 <= input.count {
            let a = values[Int(input[read])], b = values[Int(input[read + 1])]
            let c = values[Int(input[read + 2])], d = values[Int(input[read + 3])]
            guard (a | b | c | d) & invalid == 0 else {
                valid = false
                break
            }
            let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
            output[written] = UInt8(truncatingIfNeeded: group >> 16)
            output[written + 1] = UInt8(truncatingIfNeeded: group >> 8)
            output[written + 2] = UInt8(truncatingIfNeeded: group)
            read += 4
            written += 3
        }
        if valid, tail != 0 {
            let a = values[Int(input[read])], b = values[Int(input[read + 1])]
            let c = tail == 3 ? values[Int(input[read + 2])] : 0
            // The unused low bits of the last character must be zero.
            let unused = tail == 3 ? c & 0x03 : b & 0x0f
            if (a | b | c) & invalid != 0 || unused != 0 {
                valid = false
            } else {
                let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                output[written] = UInt8(truncatingIfNeeded: group >> 16)
                written += 1
                if tail == 3 {
                    output[written] = UInt8(truncatingIfNeeded: group >> 8)
                    written += 1
                }
            }
        }
        // Whatever was written is initialized; on failure the array is thrown away.
        return written
    }

    private static let alphabet: [UInt8] =
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Marks a byte outside the alphabet in ``values``.
    private static let invalid: UInt8 = 0x80

    /// The 6-bit value of each alphabet byte; ``invalid`` for every other byte.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()
}
