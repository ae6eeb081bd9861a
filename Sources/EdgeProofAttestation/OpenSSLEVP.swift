internal import COpenSSL
import Foundation

/// libcrypto's EVP interface, for the two operations of TPM2_MakeCredential swift-crypto lacks. The only file that
/// imports COpenSSL.
enum OpenSSLEVP {
    /// RSA-OAEP with SHA-256 (digest and MGF1) and `label` (its terminating zero included by the caller) to the
    /// RSA key in `subjectPublicKeyInfo` (DER).
    static func encryptOAEPSHA256(_ plaintext: Data, label: Data, subjectPublicKeyInfo: Data) throws -> Data {
        let key = try EVPPublicKey(subjectPublicKeyInfo: subjectPublicKeyInfo)
        guard let context = EVP_PKEY_CTX_new(key.pointer, nil) else {
            throw failure("EVP_PKEY_CTX_new")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try check(EVP_PKEY_encrypt_init(context), "EVP_PKEY_encrypt_init")
        try check(EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_OAEP_PADDING), "EVP_PKEY_CTX_set_rsa_padding")
        try check(EVP_PKEY_CTX_set_rsa_oaep_md(context, EVP_sha256()), "EVP_PKEY_CTX_set_rsa_oaep_md")
        try check(EVP_PKEY_CTX_set_rsa_mgf1_md(context, EVP_sha256()), "EVP_PKEY_CTX_set_rsa_mgf1_md")
        try label.withUnsafeBytes { label in
            let base = label.bindMemory(to: UInt8.self).baseAddress
            try check(COpenSSL_set_oaep_label(context, base, label.count), "EVP_PKEY_CTX_set0_rsa_oaep_label")
        }
        return try plaintext.withUnsafeBytes { input in
            let inputBase = input.bindMemory(to: UInt8.self).baseAddress
            var length = 0
            try check(EVP_PKEY_encrypt(context, nil, &length, inputBase, input.count), "EVP_PKEY_encrypt (size)")
            var output = [UInt8](repeating: 0, count: length)
            try check(EVP_PKEY_encrypt(context, &output, &length, inputBase, input.count), "EVP_PKEY_encrypt")
            return Data(output.prefix(length))
        }
    }

    /// AES-CFB (128-bit feedback) encryption with a 128- or 256-bit key and a 16-byte IV.
    static func encryptAESCFB(_ plaintext: Data, key: Data, iv: Data) throws -> Data {
        let cipher: OpaquePointer? =
            switch key.count {
            case 16: EVP_aes_128_cfb128()
            case 32: EVP_aes_256_cfb128()
            default: nil
            }
        guard let cipher, iv.count == 16 else {
            throw AttestationError.unsupported("AES-CFB", "\(key.count * 8)-bit key, \(iv.count)-byte IV")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw failure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        let keyBytes = [UInt8](key)
        let ivBytes = [UInt8](iv)
        try check(EVP_EncryptInit_ex(context, cipher, nil, keyBytes, ivBytes), "EVP_EncryptInit_ex")
        let input = [UInt8](plaintext)
        // CFB is a stream mode: the output is as long as the input, and Final adds nothing.
        var output = [UInt8](repeating: 0, count: input.count + 16)
        var written: Int32 = 0
        try check(EVP_EncryptUpdate(context, &output, &written, input, Int32(input.count)), "EVP_EncryptUpdate")
        var final: Int32 = 0
        try output.withUnsafeMutableBufferPointer { buffer in
            let tail = buffer.baseAddress.map { $0 + Int(written) }
            try check(EVP_EncryptFinal_ex(context, tail, &final), "EVP_EncryptFinal_ex")
        }
        return Data(output.prefix(Int(written + final)))
    }

    private static func check(_ rc: Int32, _ operation: String) throws {
        guard rc > 0 else { throw failure(operation) }
    }

    /// The error with libcrypto's queued reasons (and empties the queue, which is per thread).
    private static func failure(_ operation: String) -> AttestationError {
        var reasons = [String]()
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        let detail = reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
        return AttestationError.openSSL(operation, detail)
    }
}

/// An EVP_PKEY holding a public key read from DER SubjectPublicKeyInfo.
final class EVPPublicKey {
    let pointer: OpaquePointer  // EVP_PKEY *

    init(subjectPublicKeyInfo der: Data) throws {
        let bytes = [UInt8](der)
        let key: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let key else {
            ERR_clear_error()
            throw AttestationError.malformed("SubjectPublicKeyInfo", "libcrypto cannot read the DER key")
        }
        pointer = key
    }

    deinit { EVP_PKEY_free(pointer) }
}
