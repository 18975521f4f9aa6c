/// A failure of a cryptographic operation: wrong key size, failed verification, failed decryption.
///
/// The message never contains key material or plaintext.
public struct CryptoError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, stable and machine-readable.
    public enum Code: String, Sendable {
        case invalidKeyLength = "invalid_key_length"
        case decryptionFailed = "decryption_failed"
        case invalidInput = "invalid_input"
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}
