import CSodium

/// Key material that never prints and is wiped when released.
///
/// The bytes live in memory from `sodium_malloc`: locked into RAM (`mlock`, never swapped out or
/// written to a core dump where the kernel honours `MADV_DONTDUMP`), between guard pages, and
/// zeroed by `sodium_free` on deinit. `description` and `debugDescription` are redacted so a
/// key cannot reach a log line by accident.
///
/// `@unchecked Sendable`: the storage is written once, in `init`, and only read afterwards.
package final class SecretBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    /// Copies `bytes` into wiped-on-release storage.
    package init(_ bytes: some Collection<UInt8>) {
        Sodium.ensureInitialized()
        guard let memory = sodium_malloc(max(bytes.count, 1)) else { fatalError("sodium_malloc: out of memory") }
        storage = UnsafeMutableRawBufferPointer(start: memory, count: max(bytes.count, 1))
        storage.copyBytes(from: bytes)
        count = bytes.count
    }

    /// Fresh random key material.
    package static func random(count: Int) -> SecretBytes {
        var bytes = Sodium.randomBytes(count)
        defer { bytes.withUnsafeMutableBytes { sodium_memzero($0.mutableBytes, $0.count) } }
        return SecretBytes(bytes)
    }

    deinit {
        sodium_free(storage.baseAddress)  // zeroes, unlocks and unmaps
    }

    /// Number of secret bytes.
    package let count: Int

    /// Gives temporary read access to the secret bytes.
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Copies the secret out. Use only to write a key file.
    /// - Warning: the returned array is ordinary memory; wipe or drop it promptly.
    package func exposedBytes() -> [UInt8] { withUnsafeBytes { Array($0) } }

    package var description: String { "SecretBytes(\(count) bytes, redacted)" }
    package var debugDescription: String { description }
}
