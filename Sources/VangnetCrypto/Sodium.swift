import CSodium

/// Process-wide libsodium initialisation.
///
/// Every entry point of this module calls ``Sodium/ensureInitialized()`` first; `sodium_init` is
/// idempotent and thread-safe, and a Swift `static let` runs it exactly once.
package enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    /// Initialises libsodium if that has not happened yet.
    /// - Precondition: libsodium initialises (it fails only when the system has no entropy source).
    @inline(__always)
    package static func ensureInitialized() {
        precondition(initialized, "libsodium failed to initialise")
    }

    /// `count` bytes from libsodium's CSPRNG.
    package static func randomBytes(_ count: Int) -> [UInt8] {
        ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return bytes
    }
}
