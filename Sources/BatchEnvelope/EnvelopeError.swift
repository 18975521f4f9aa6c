/// Why an envelope is refused as a whole. Stable codes; messages never quote payload bytes.
public struct EnvelopeError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String {
            case malformed = "envelope_malformed"
            case unsupportedVersion = "envelope_unsupported_version"
            case wrongRecipient = "envelope_wrong_recipient"
            case payloadKeyUnreadable = "envelope_payload_key_unreadable"
            case decryptionFailed = "envelope_decryption_failed"
            case truncated = "envelope_truncated"
            case trailingData = "envelope_trailing_data"
            case badSignature = "envelope_bad_signature"
            case unknownSigningKey = "envelope_unknown_signing_key"
            case tooLarge = "envelope_too_large"
        }
        fileprivate let base: Base
        public static let malformed = Code(base: .malformed)
        public static let unsupportedVersion = Code(base: .unsupportedVersion)
        public static let wrongRecipient = Code(base: .wrongRecipient)
        public static let payloadKeyUnreadable = Code(base: .payloadKeyUnreadable)
        public static let decryptionFailed = Code(base: .decryptionFailed)
        public static let truncated = Code(base: .truncated)
        public static let trailingData = Code(base: .trailingData)
        public static let badSignature = Code(base: .badSignature)
        public static let unknownSigningKey = Code(base: .unknownSigningKey)
        public static let tooLarge = Code(base: .tooLarge)
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}
