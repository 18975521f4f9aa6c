import CSodium

/// Authenticated encryption with associated data: XChaCha20-Poly1305 (IETF), with a random
/// 24-byte nonce per message, so a key seals any number of messages.
package enum AEAD {
    package static var keyLength: Int { Int(crypto_aead_xchacha20poly1305_ietf_keybytes()) }
    static var nonceLength: Int { Int(crypto_aead_xchacha20poly1305_ietf_npubbytes()) }
    static var tagLength: Int { Int(crypto_aead_xchacha20poly1305_ietf_abytes()) }

    /// `nonce || ciphertext || tag` of `message`, bound to `associated` (not encrypted).
    package static func seal(_ message: [UInt8], associated: [UInt8], key: SecretBytes) -> [UInt8] {
        Sodium.ensureInitialized()
        precondition(key.count == keyLength)
        var nonce = [UInt8](repeating: 0, count: nonceLength)
        randombytes_buf(&nonce, nonce.count)
        var out = [UInt8](repeating: 0, count: message.count + tagLength)
        var written: UInt64 = 0
        key.withUnsafeBytes { k in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                &out,
                &written,
                message,
                UInt64(message.count),
                associated,
                UInt64(associated.count),
                nil,
                nonce,
                k.bytes
            )
        }
        return nonce + out
    }

    /// The message of a `seal`ed box, or `nil` if the box, its associated data or the key differ.
    package static func open(_ box: [UInt8], associated: [UInt8], key: SecretBytes) -> [UInt8]? {
        Sodium.ensureInitialized()
        guard key.count == keyLength, box.count >= nonceLength + tagLength else { return nil }
        let nonce = Array(box.prefix(nonceLength))
        let sealed = Array(box.dropFirst(nonceLength))
        var out = [UInt8](repeating: 0, count: sealed.count - tagLength)
        var written: UInt64 = 0
        let status = key.withUnsafeBytes { k in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                &out,
                &written,
                nil,
                sealed,
                UInt64(sealed.count),
                associated,
                UInt64(associated.count),
                nonce,
                k.bytes
            )
        }
        return status == 0 ? Array(out.prefix(Int(written))) : nil
    }
}
