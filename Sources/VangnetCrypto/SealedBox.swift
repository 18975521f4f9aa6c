import CSodium

/// An X25519 public key that anonymous senders seal messages to (`crypto_box_seal`).
package struct BoxPublicKey: Sendable, Hashable, CustomStringConvertible {
    package let bytes: [UInt8]

    package init(bytes: [UInt8]) throws {
        guard bytes.count == Int(crypto_box_publickeybytes()) else {
            throw CryptoError(.invalidKeyLength, "an X25519 public key has 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A short identifier: the first 8 bytes of BLAKE2b-256 over the key, in hex.
    package var keyID: String { Hex.encode(Array(GenericHash.hash(bytes, outputLength: 32).prefix(8))) }

    /// Seals `message` so that only the holder of the matching secret key can open it.
    package func seal(_ message: [UInt8]) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: message.count + Int(crypto_box_sealbytes()))
        _ = crypto_box_seal(&out, message, UInt64(message.count), bytes)
        return out
    }

    /// Seals secret material (a payload key) without copying it into ordinary memory first.
    package func seal(_ secret: SecretBytes) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: secret.count + Int(crypto_box_sealbytes()))
        secret.withUnsafeBytes { m in
            _ = crypto_box_seal(&out, m.bytes, UInt64(m.count), bytes)
        }
        return out
    }

    /// Seals bytes the caller wipes after (a BSN on its way to its recipient), without a copy.
    package func seal(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: message.count + Int(crypto_box_sealbytes()))
        _ = crypto_box_seal(&out, message.bindMemory(to: UInt8.self).baseAddress, UInt64(message.count), bytes)
        return out
    }

    package var description: String { "X25519PublicKey(\(keyID))" }
}

/// An X25519 key pair that opens sealed boxes.
package struct BoxKeyPair: Sendable, CustomStringConvertible {
    package let publicKey: BoxPublicKey
    /// The 32-byte secret key (what a key file stores).
    package let secretKey: SecretBytes

    package static func generate() -> BoxKeyPair {
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: Int(crypto_box_publickeybytes()))
        var sk = [UInt8](repeating: 0, count: Int(crypto_box_secretkeybytes()))
        defer { sk.withUnsafeMutableBytes { sodium_memzero($0.mutableBytes, $0.count) } }
        crypto_box_keypair(&pk, &sk)
        return try! BoxKeyPair(secretKey: SecretBytes(sk))
    }

    /// The pair for a stored secret key; the public key is recomputed from it.
    package init(secretKey: SecretBytes) throws {
        Sodium.ensureInitialized()
        guard secretKey.count == Int(crypto_box_secretkeybytes()) else {
            throw CryptoError(.invalidKeyLength, "an X25519 secret key has 32 bytes, got \(secretKey.count)")
        }
        var pk = [UInt8](repeating: 0, count: Int(crypto_box_publickeybytes()))
        secretKey.withUnsafeBytes { sk in
            _ = crypto_scalarmult_base(&pk, sk.bytes)
        }
        self.publicKey = try BoxPublicKey(bytes: pk)
        self.secretKey = secretKey
    }

    /// Opens a sealed box addressed to this key pair.
    /// - Throws: ``CryptoError`` `.decryptionFailed` if it was not sealed to this key or was altered.
    package func open(_ sealed: [UInt8]) throws -> SecretBytes {
        let overhead = Int(crypto_box_sealbytes())
        guard sealed.count >= overhead else { throw CryptoError(.decryptionFailed, "sealed box too short") }
        var out = [UInt8](repeating: 0, count: sealed.count - overhead)
        defer { out.withUnsafeMutableBytes { sodium_memzero($0.mutableBytes, $0.count) } }
        let status = secretKey.withUnsafeBytes { sk in
            crypto_box_seal_open(&out, sealed, UInt64(sealed.count), publicKey.bytes, sk.bytes)
        }
        guard status == 0 else { throw CryptoError(.decryptionFailed, "sealed box does not open with this key") }
        return SecretBytes(out)
    }

    package var description: String { "X25519KeyPair(\(publicKey.keyID), secret redacted)" }
}
