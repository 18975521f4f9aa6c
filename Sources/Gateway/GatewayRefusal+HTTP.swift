import HTTPTypes
import Hummingbird
import NIOCore

// The edge's side of a refusal: its HTTP status and its response. Nothing else in the gateway
// speaks of HTTP statuses.

extension GatewayRefusal: HTTPResponseError {
    package var status: HTTPResponse.Status { code.status }

    /// The JSON error body, with `Retry-After` where the refusal passes.
    package func response(from request: Request, context: some RequestContext) throws -> Response { response() }

    package func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension GatewayRefusal.Code {
    package var status: HTTPResponse.Status {
        switch self {
        case .bodyMalformed, .envelopeMalformed, .envelopeUnsupportedVersion, .envelopeWrongRecipient,
            .envelopePayloadKeyUnreadable,
            .envelopeDecryptionFailed, .envelopeChunkInvalid, .envelopeTruncated, .envelopeTrailingData,
            .envelopeBadSignature,
            .invalidQuery, .invalidCursor:
            .badRequest
        case .noOIN, .unknownOrganisation, .wrongRole, .certificateRevoked, .sourceMismatch, .datasetNotAllowed,
            .unknownSigningKey,
            .unknownPurpose, .noGrant, .reidentificationNotAllowed, .noRevealKey, .selfApproval, .notAnApprover:
            .forbidden
        case .unknownReason, .caseReferenceRefused, .tooManyPseudonyms, .notInPopulation: .unprocessableContent
        case .quotaExceeded: .tooManyRequests
        case .requestDecided, .notApproved, .alreadyReleased: .conflict
        case .requestExpired: .gone
        case .reidentificationKeyMissing: .serviceUnavailable
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .uploadTooSlow: .requestTimeout
        case .batchIdConflict: .conflict
        case .snapshotExpired, .cursorExpired: .gone
        case .envelopeTooLarge, .tooManyRecords: .contentTooLarge
        case .batchOutsideTimeWindow, .unsupportedSchemaVersion, .recordCountMismatch: .unprocessableContent
        case .rateLimited: .tooManyRequests
        case .internalError: .internalServerError
        case .crlExpired: .serviceUnavailable
        }
    }
}
