import CSodium

/// An Ed25519 public key: verifies detached signatures.
package struct SigningPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 raw key bytes.
    package let bytes: [UInt8]

    package init(bytes: [UInt8]) throws {
        guard bytes.count == Int(crypto_sign_publickeybytes()) else {
            throw CryptoError(.invalidKeyLength, "an Ed25519 public key has 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A short identifier: the first 8 bytes of BLAKE2b-256 over the key, in hex.
    package var keyID: String { Hex.encode(Array(GenericHash.hash(bytes, outputLength: 32).prefix(8))) }

    /// Whether `signature` is a valid Ed25519 signature of `message` by this key.
    package func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == Int(crypto_sign_bytes()) else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), bytes) == 0
    }

    package var description: String { "Ed25519PublicKey(\(keyID))" }
}

/// An Ed25519 key pair: signs messages with detached signatures.
///
/// The secret key is held in ``SecretBytes`` and never prints.
package struct SigningKeyPair: Sendable, CustomStringConvertible {
    package let publicKey: SigningPublicKey
    private let secretKey: SecretBytes
    /// The 32-byte seed the pair derives from (what a key file stores).
    package let seed: SecretBytes

    /// A fresh random key pair.
    package static func generate() -> SigningKeyPair {
        try! SigningKeyPair(seed: SecretBytes.random(count: Int(crypto_sign_seedbytes())))
    }

    /// The key pair derived from a 32-byte seed (RFC 8032 "secret key").
    package init(seed: SecretBytes) throws {
        Sodium.ensureInitialized()
        guard seed.count == Int(crypto_sign_seedbytes()) else {
            throw CryptoError(.invalidKeyLength, "an Ed25519 seed has 32 bytes, got \(seed.count)")
        }
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_publickeybytes()))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_secretkeybytes()))
        defer { sk.withUnsafeMutableBytes { sodium_memzero($0.mutableBytes, $0.count) } }
        seed.withUnsafeBytes { s in
            _ = crypto_sign_seed_keypair(&pk, &sk, s.bytes)
        }
        self.publicKey = try SigningPublicKey(bytes: pk)
        self.secretKey = SecretBytes(sk)
        self.seed = seed
    }

    /// The detached signature (64 bytes) of `message`.
    package func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_bytes()))
        secretKey.withUnsafeBytes { sk in
            _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count), sk.bytes)
        }
        return signature
    }

    package var description: String { "Ed25519KeyPair(\(publicKey.keyID), secret redacted)" }
}
