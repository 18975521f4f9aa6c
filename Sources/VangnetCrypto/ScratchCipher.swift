import CSodium

/// Seals the blocks of one scratch file (data that must leave memory for a while, such as a
/// batch's lines before its commit) under a key that exists only in this object: once it is gone
/// (the process ended, or the file was done with), what the file left on disk is unreadable.
///
/// XChaCha20-Poly1305 (IETF), each block's number as its nonce: a cipher seals one file, and
/// every number once (the caller counts). Opening checks that a block is the one with that
/// number, unchanged; a block moved, cut or altered does not open.
package struct ScratchCipher: Sendable {
    private let key = SecretBytes.random(count: AEAD.keyLength)

    /// Bytes a block grows by when sealed.
    package static var overhead: Int { AEAD.tagLength }

    package init() {}

    /// Appends block `number`, `plain` sealed, to `out`.
    package func seal(_ plain: UnsafeRawBufferPointer, number: UInt64, appendingTo out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: plain.count + Self.overhead))
        var written: UInt64 = 0
        Self.nonce(number) { nonce in
            key.withUnsafeBytes { k in
                out.withUnsafeMutableBytes { o in
                    _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                        o.mutableBytes + start,
                        &written,
                        plain.bytes,
                        UInt64(plain.count),
                        nil,
                        0,
                        nil,
                        nonce,
                        k.bytes
                    )
                }
            }
        }
    }

    /// Replaces `out` with block `number` opened from `sealed`; false if it is not that block as
    /// this cipher sealed it.
    package func open(_ sealed: UnsafeRawBufferPointer, number: UInt64, into out: inout [UInt8]) -> Bool {
        guard sealed.count >= Self.overhead else { return false }
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: repeatElement(0, count: sealed.count - Self.overhead))
        var written: UInt64 = 0
        let status = Self.nonce(number) { nonce in
            key.withUnsafeBytes { k in
                out.withUnsafeMutableBytes { o in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        o.mutableBytes,
                        &written,
                        nil,
                        sealed.bytes,
                        UInt64(sealed.count),
                        nil,
                        0,
                        nonce,
                        k.bytes
                    )
                }
            }
        }
        return status == 0
    }

    private static func nonce<R>(_ number: UInt64, _ body: (UnsafePointer<UInt8>) -> R) -> R {
        var nonce = [UInt8](repeating: 0, count: AEAD.nonceLength)
        withUnsafeBytes(of: number.littleEndian) { nonce.replaceSubrange(0..<8, with: $0) }
        return nonce.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
