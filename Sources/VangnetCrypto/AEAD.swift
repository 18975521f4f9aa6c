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

    /// `nonce || ciphertext || tag` of `message` under the `nonce` given (24 bytes): the same
    /// message, key and nonce give the same box. Only for a nonce that is itself a keyed function
    /// of the message (a synthetic nonce), so one nonce never seals two messages.
    package static func seal(
        _ message: UnsafeRawBufferPointer,
        associated: [UInt8],
        key: SecretBytes,
        nonce: [UInt8]
    ) -> [UInt8] {
        Sodium.ensureInitialized()
        precondition(key.count == keyLength && nonce.count == nonceLength)
        var out = [UInt8](repeating: 0, count: message.count + tagLength)
        var written: UInt64 = 0
        key.withUnsafeBytes { k in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                &out,
                &written,
                message.bindMemory(to: UInt8.self).baseAddress,
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

    /// Gives the message of a `seal`ed box to `body` and wipes it afterwards; `nil` (and `body`
    /// not called) if the box, its associated data or the key differ. For messages that must not
    /// outlive their use (a BSN on its way to a sealed box).
    package static func withOpened<R>(
        _ box: [UInt8],
        associated: [UInt8],
        key: SecretBytes,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R? {
        guard var message = open(box, associated: associated, key: key) else { return nil }
        defer { message.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) } }
        return try message.withUnsafeBytes(body)
    }
}
