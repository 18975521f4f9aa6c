import CSodium

/// Constants of libsodium's `crypto_secretstream_xchacha20poly1305`.
package enum SecretStream {
    package static var keyLength: Int { Int(crypto_secretstream_xchacha20poly1305_keybytes()) }
    package static var headerLength: Int { Int(crypto_secretstream_xchacha20poly1305_headerbytes()) }
    /// Bytes each chunk grows by when encrypted (tag and MAC).
    package static var overhead: Int { Int(crypto_secretstream_xchacha20poly1305_abytes()) }
    static var tagMessage: UInt8 { UInt8(crypto_secretstream_xchacha20poly1305_tag_message()) }
    static var tagFinal: UInt8 { UInt8(crypto_secretstream_xchacha20poly1305_tag_final()) }

    /// The tag a chunk was pushed with.
    package enum Tag: Sendable, Equatable {
        case message, push, rekey, final

        var raw: UInt8 {
            switch self {
            case .message: SecretStream.tagMessage
            case .push: UInt8(crypto_secretstream_xchacha20poly1305_tag_push())
            case .rekey: UInt8(crypto_secretstream_xchacha20poly1305_tag_rekey())
            case .final: SecretStream.tagFinal
            }
        }

        init(_ raw: UInt8) {
            switch raw {
            case SecretStream.tagFinal: self = .final
            case UInt8(crypto_secretstream_xchacha20poly1305_tag_push()): self = .push
            case UInt8(crypto_secretstream_xchacha20poly1305_tag_rekey()): self = .rekey
            default: self = .message
            }
        }
    }
}

/// The encrypting side of a secretstream: chunks in order, the last one marked final.
///
/// Not `Sendable`: it holds the evolving stream state; use it from one task.
package final class SecretStreamEncryptor {
    private var state: crypto_secretstream_xchacha20poly1305_state
    /// The stream header the decryptor needs (public, 24 bytes).
    package let header: [UInt8]

    package init(key: SecretBytes) throws {
        Sodium.ensureInitialized()
        guard key.count == SecretStream.keyLength else {
            throw CryptoError(.invalidKeyLength, "a secretstream key has 32 bytes, got \(key.count)")
        }
        var header = [UInt8](repeating: 0, count: SecretStream.headerLength)
        var state = crypto_secretstream_xchacha20poly1305_state()
        key.withUnsafeBytes { k in
            _ = crypto_secretstream_xchacha20poly1305_init_push(&state, &header, k.bytes)
        }
        self.state = state
        self.header = header
    }

    /// Encrypts one chunk; `isFinal` marks the end of the stream.
    package func encrypt(_ plaintext: UnsafeRawBufferPointer, isFinal: Bool) -> [UInt8] {
        encrypt(plaintext, tag: isFinal ? .final : .message)
    }

    /// Encrypts one chunk with `tag` (the envelope format uses message and final only).
    package func encrypt(_ plaintext: UnsafeRawBufferPointer, tag: SecretStream.Tag) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + SecretStream.overhead)
        _ = crypto_secretstream_xchacha20poly1305_push(
            &state,
            &out,
            nil,
            plaintext.bytes,
            UInt64(plaintext.count),
            nil,
            0,
            tag.raw
        )
        return out
    }

    package func encrypt(_ plaintext: [UInt8], isFinal: Bool) -> [UInt8] {
        plaintext.withUnsafeBytes { encrypt($0, isFinal: isFinal) }
    }
}

/// The decrypting side of a secretstream. Detects altered, reordered, dropped and truncated chunks.
package final class SecretStreamDecryptor {
    private var state: crypto_secretstream_xchacha20poly1305_state
    /// Whether the chunk marked final has been decrypted; nothing may follow it.
    package private(set) var isFinished = false

    package init(key: SecretBytes, header: [UInt8]) throws {
        Sodium.ensureInitialized()
        guard key.count == SecretStream.keyLength, header.count == SecretStream.headerLength else {
            throw CryptoError(.invalidKeyLength, "secretstream key or header has the wrong length")
        }
        var state = crypto_secretstream_xchacha20poly1305_state()
        let status = key.withUnsafeBytes { k in
            crypto_secretstream_xchacha20poly1305_init_pull(&state, header, k.bytes)
        }
        self.state = state
        guard status == 0 else { throw CryptoError(.decryptionFailed, "invalid secretstream header") }
    }

    /// Decrypts the next chunk into `output` (cleared first).
    /// - Returns: the tag the chunk was pushed with.
    /// - Throws: `.decryptionFailed` if the chunk was altered or is out of order, or follows the final chunk.
    @discardableResult
    package func decrypt(_ ciphertext: UnsafeRawBufferPointer, into output: inout [UInt8]) throws -> SecretStream.Tag {
        guard !isFinished else { throw CryptoError(.decryptionFailed, "data after the final chunk") }
        guard ciphertext.count >= SecretStream.overhead else { throw CryptoError(.decryptionFailed, "chunk too short") }
        let length = ciphertext.count - SecretStream.overhead
        output.removeAll(keepingCapacity: true)
        output.append(contentsOf: repeatElement(0, count: length))
        var tag: UInt8 = 0
        let status = output.withUnsafeMutableBytes { out in
            crypto_secretstream_xchacha20poly1305_pull(
                &state,
                out.mutableBytes,
                nil,
                &tag,
                ciphertext.bytes,
                UInt64(ciphertext.count),
                nil,
                0
            )
        }
        guard status == 0 else { throw CryptoError(.decryptionFailed, "chunk failed authentication") }
        if tag == SecretStream.tagFinal { isFinished = true }
        return SecretStream.Tag(tag)
    }
}
