import CSodium

/// Subkeys from a root key with libsodium's labelled KDF (`crypto_kdf_derive_from_key`, BLAKE2b).
///
/// A subkey is fixed by the root key, an 8-character context label naming its use, and a numeric
/// id (Vangnet uses the key epoch). Different labels or ids give independent keys.
package enum KeyDerivation {
    /// Size of a root key.
    package static let rootKeyLength = 32

    /// Derives a subkey of `length` bytes (16 to 64).
    /// - Precondition: `context` is exactly 8 ASCII characters.
    package static func derive(
        from root: SecretBytes,
        context: String,
        id: UInt64,
        length: Int = 32
    ) throws -> SecretBytes {
        Sodium.ensureInitialized()
        let label = Array(context.utf8)
        precondition(label.count == Int(crypto_kdf_contextbytes()), "a KDF context label has 8 characters")
        guard root.count == Int(crypto_kdf_keybytes()) else {
            throw CryptoError(.invalidKeyLength, "a root key has 32 bytes, got \(root.count)")
        }
        var out = [UInt8](repeating: 0, count: length)
        defer { out.withUnsafeMutableBytes { sodium_memzero($0.mutableBytes, $0.count) } }
        let status = root.withUnsafeBytes { k in
            label.withUnsafeBufferPointer { ctx in
                ctx.withMemoryRebound(to: CChar.self) { c in
                    crypto_kdf_derive_from_key(&out, length, id, c.baseAddress!, k.bytes)
                }
            }
        }
        guard status == 0 else { throw CryptoError(.invalidInput, "subkey length must be 16 to 64 bytes") }
        return SecretBytes(out)
    }
}
