import CSodium

/// BLAKE2b (`crypto_generichash`), keyed or unkeyed, one-shot or streaming.
package enum GenericHash {
    /// The BLAKE2b digest of `input`, optionally keyed (key 16 to 64 bytes).
    package static func hash(_ input: [UInt8], outputLength: Int = 32) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: outputLength)
        _ = crypto_generichash(&out, outputLength, input, UInt64(input.count), nil, 0)
        return out
    }

    /// The keyed BLAKE2b digest of `input` (a MAC / PRF).
    package static func keyedHash(_ input: UnsafeRawBufferPointer, key: SecretBytes, outputLength: Int = 32) -> [UInt8]
    {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: outputLength)
        key.withUnsafeBytes { k in
            _ = crypto_generichash(
                &out,
                outputLength,
                input.bytes,
                UInt64(input.count),
                k.bytes,
                k.count
            )
        }
        return out
    }

    /// Keyed BLAKE2b of `input` written into `out` (its length is the output length, 16-64).
    package static func keyedHash(
        _ input: UnsafeRawBufferPointer,
        key: SecretBytes,
        into out: UnsafeMutableRawBufferPointer
    ) {
        Sodium.ensureInitialized()
        key.withUnsafeBytes { k in
            _ = crypto_generichash(
                out.bindMemory(to: UInt8.self).baseAddress!,
                out.count,
                input.bytes,
                UInt64(input.count),
                k.bytes,
                k.count
            )
        }
    }

    /// The keyed BLAKE2b digest of `input`.
    package static func keyedHash(_ input: [UInt8], key: SecretBytes, outputLength: Int = 32) -> [UInt8] {
        input.withUnsafeBytes { keyedHash($0, key: key, outputLength: outputLength) }
    }
}

/// An incremental BLAKE2b computation, for hashing a stream as it passes.
///
/// Not `Sendable`: it holds mutable hash state; use it from one task.
package final class StreamingHash {
    // crypto_generichash_state is 64-byte aligned and does not import into Swift: keep it on the heap.
    private let state: UnsafeMutableRawPointer
    private let outputLength: Int
    private var finalized = false

    package init(outputLength: Int = 64) {
        Sodium.ensureInitialized()
        self.outputLength = outputLength
        state = .allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        _ = crypto_generichash_init(OpaquePointer(state), nil, 0, outputLength)
    }

    deinit { state.deallocate() }

    package func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finalized, "StreamingHash used after finalize()")
        _ = crypto_generichash_update(OpaquePointer(state), bytes.bytes, UInt64(bytes.count))
    }

    package func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest; the hash takes no more input afterwards.
    package func finalize() -> [UInt8] {
        precondition(!finalized, "StreamingHash finalized twice")
        finalized = true
        var out = [UInt8](repeating: 0, count: outputLength)
        _ = crypto_generichash_final(OpaquePointer(state), &out, outputLength)
        return out
    }
}
