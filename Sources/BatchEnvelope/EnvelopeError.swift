/// Why an envelope is refused as a whole. Stable codes; messages never quote payload bytes.
package struct EnvelopeError: Error, Equatable, Sendable, CustomStringConvertible {
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String {
            case malformed = "envelope_malformed"
            case unsupportedVersion = "envelope_unsupported_version"
            case wrongRecipient = "envelope_wrong_recipient"
            case payloadKeyUnreadable = "envelope_payload_key_unreadable"
            case decryptionFailed = "envelope_decryption_failed"
            case chunkInvalid = "envelope_chunk_invalid"
            case truncated = "envelope_truncated"
            case trailingData = "envelope_trailing_data"
            case badSignature = "envelope_bad_signature"
            case unknownSigningKey = "envelope_unknown_signing_key"
            case tooLarge = "envelope_too_large"
        }
        fileprivate let base: Base
        package static let malformed = Code(base: .malformed)
        package static let unsupportedVersion = Code(base: .unsupportedVersion)
        package static let wrongRecipient = Code(base: .wrongRecipient)
        package static let payloadKeyUnreadable = Code(base: .payloadKeyUnreadable)
        package static let decryptionFailed = Code(base: .decryptionFailed)
        package static let chunkInvalid = Code(base: .chunkInvalid)
        package static let truncated = Code(base: .truncated)
        package static let trailingData = Code(base: .trailingData)
        package static let badSignature = Code(base: .badSignature)
        package static let unknownSigningKey = Code(base: .unknownSigningKey)
        package static let tooLarge = Code(base: .tooLarge)
        package var description: String { base.rawValue }
    }

    package let code: Code
    package let reason: String

    package init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    package var description: String { "\(code): \(reason)" }
}
