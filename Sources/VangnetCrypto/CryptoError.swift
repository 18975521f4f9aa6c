/// A failure of a cryptographic operation: wrong key size, failed verification, failed decryption.
///
/// The message never contains key material or plaintext.
package struct CryptoError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, stable and machine-readable.
    package enum Code: String, Sendable {
        case invalidKeyLength = "invalid_key_length"
        case decryptionFailed = "decryption_failed"
        case invalidInput = "invalid_input"
    }

    package let code: Code
    package let reason: String

    package init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    package var description: String { "\(code.rawValue): \(reason)" }
}
