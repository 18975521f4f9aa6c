import AccessPolicy
import BatchEnvelope
import VangnetCore

/// A request the gateway refuses: a code from a closed set, a message for people, and for a
/// refusal that passes the seconds after which to try again. Never carries a record value or a
/// BSN. The pipelines throw it and know no HTTP: the status is the code's, chosen at the edge
/// (GatewayRefusal+HTTP.swift), where a refusal answers the JSON error body that every refusal
/// has: `{"error": "<code>", "message": "..."}`.
package struct GatewayRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    package let code: Code
    package let message: String
    /// Seconds after which the caller may try again (`Retry-After`), for refusals that pass.
    package let retryAfter: Int?

    package init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        (self.code, self.message, self.retryAfter) = (code, message, retryAfter)
    }

    /// A policy decision's refusal: the denial's code, and its reason as the message.
    package init(_ denial: Denial) { self.init(Code(denial.code), denial.reason) }

    /// An envelope the reader refused. An unknown signing key is refused by the policy before the
    /// reader could find it, so it answers as the policy does.
    package init(_ error: EnvelopeError) {
        let code =
            error.code == .unknownSigningKey
            ? .unknownSigningKey : Code(rawValue: error.code.description) ?? .envelopeMalformed
        self.init(code, error.reason)
    }

    package var description: String { "\(code.rawValue): \(message)" }

    /// `{"error":"<code>","message":"<message>"}` and a newline.
    package var body: [UInt8] {
        var body = Array(#"{"error":"#.utf8)
        JSONText.appendString(code.rawValue, to: &body)
        body += Array(#","message":"#.utf8)
        JSONText.appendString(message, to: &body)
        return body + Array("}\n".utf8)
    }

    /// Every refusal's code, as docs/errors.md lists them with their status (a test holds the two
    /// equal). Codes are stable across versions; messages may change.
    package enum Code: String, CaseIterable, Sendable {
        // Identity and roles, on every route.
        case noOIN = "no_oin"
        case unknownOrganisation = "unknown_organisation"
        case wrongRole = "wrong_role"
        case certificateRevoked = "certificate_revoked"
        case crlExpired = "crl_expired"
        case rateLimited = "rate_limited"
        // Pushing a batch.
        case bodyMalformed = "body_malformed"
        case envelopeMalformed = "envelope_malformed"
        case envelopeUnsupportedVersion = "envelope_unsupported_version"
        case envelopeWrongRecipient = "envelope_wrong_recipient"
        case envelopePayloadKeyUnreadable = "envelope_payload_key_unreadable"
        case envelopeDecryptionFailed = "envelope_decryption_failed"
        case envelopeChunkInvalid = "envelope_chunk_invalid"
        case envelopeTruncated = "envelope_truncated"
        case envelopeTrailingData = "envelope_trailing_data"
        case envelopeBadSignature = "envelope_bad_signature"
        case envelopeTooLarge = "envelope_too_large"
        case tooManyRecords = "too_many_records"
        case sourceMismatch = "source_mismatch"
        case datasetNotAllowed = "dataset_not_allowed"
        case unknownSigningKey = "unknown_signing_key"
        case uploadTooSlow = "upload_too_slow"
        case batchIdConflict = "batch_id_conflict"
        case batchOutsideTimeWindow = "batch_outside_time_window"
        case unsupportedSchemaVersion = "unsupported_schema_version"
        case recordCountMismatch = "record_count_mismatch"
        // Pulling, and the queries of every route.
        case invalidQuery = "invalid_query"
        case invalidCursor = "invalid_cursor"
        case snapshotExpired = "snapshot_expired"
        case cursorExpired = "cursor_expired"
        case unknownPurpose = "unknown_purpose"
        case noGrant = "no_grant"
        // Any path.
        case reidentificationNotAllowed = "reidentification_not_allowed"
        case noRevealKey = "no_reveal_key"
        case unknownReason = "unknown_reason"
        case caseReferenceRefused = "case_reference_refused"
        case tooManyPseudonyms = "too_many_pseudonyms"
        case notInPopulation = "not_in_population"
        case quotaExceeded = "quota_exceeded"
        case selfApproval = "self_approval"
        case notAnApprover = "not_an_approver"
        case requestDecided = "request_decided"
        case requestExpired = "request_expired"
        case notApproved = "not_approved"
        case alreadyReleased = "already_released"
        case reidentificationKeyMissing = "reidentification_key_missing"
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case internalError = "internal_error"

        /// The code of a policy decision's denial.
        package init(_ denial: Denial.Code) {
            switch denial {
            case .unknownOrganisation: self = .unknownOrganisation
            case .wrongRole: self = .wrongRole
            case .unknownPurpose: self = .unknownPurpose
            case .noGrant: self = .noGrant
            case .datasetNotAllowed: self = .datasetNotAllowed
            case .unknownSigningKey: self = .unknownSigningKey
            case .sourceMismatch: self = .sourceMismatch
            case .reidentificationNotAllowed: self = .reidentificationNotAllowed
            case .noRevealKey: self = .noRevealKey
            case .selfApproval: self = .selfApproval
            case .notAnApprover: self = .notAnApprover
            }
        }
    }
}
