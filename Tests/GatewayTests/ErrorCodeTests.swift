import AccessPolicy
import AuditLog
import BatchEnvelope
import Foundation
import Gateway
import HTTPTypes
import Testing

/// The refusal codes are a closed set with one status each, and the documents clients are written
/// from list exactly that set: every code with its status in docs/errors.md, and no code in
/// docs/api.md that the gateway does not answer, or with another status.
@Suite struct ErrorCodeTests {
    static func document(_ name: String) throws -> String {
        try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../docs/\(name)"
            ),
            encoding: .utf8
        )
    }

    /// The rows of a document's tables that begin with a status: the status and every
    /// backticked word with an underscore or none in the row's first cells (a code's shape).
    static func statusRows(_ text: String, codeColumnOnly: Bool) -> [(status: Int, codes: [String])] {
        text.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 3, cells[1].count == 3, let status = Int(cells[1]) else { return nil }
            let text = codeColumnOnly ? cells[2] : cells[2...].joined(separator: " ")
            let codes = text.split(separator: "`", omittingEmptySubsequences: false).enumerated()
                .filter {
                    $0.offset % 2 == 1 && $0.element.contains("_")
                        && $0.element.allSatisfy { $0.isLowercase || $0 == "_" }
                }
                .map { String($0.element) }
            return (status, codes)
        }
    }

    @Test func errorsMdListsEveryCodeWithItsStatusAndNoOther() throws {
        let rows = Self.statusRows(try Self.document("errors.md"), codeColumnOnly: true)
        var documented: [String: Set<Int>] = [:]
        for row in rows {
            #expect(row.codes.count == 1, "one code per row (status \(row.status): \(row.codes))")
            for code in row.codes { documented[code, default: []].insert(row.status) }
        }
        for code in GatewayRefusal.Code.allCases {
            #expect(
                documented[code.rawValue] == [Int(code.status.code)],
                "\(code.rawValue): answered with \(code.status.code), documented with \(documented[code.rawValue] ?? [])"
            )
        }
        let unknown = Set(documented.keys).subtracting(GatewayRefusal.Code.allCases.map(\.rawValue))
        #expect(unknown.isEmpty, "documented but never answered: \(unknown.sorted())")
    }

    @Test func apiMdNamesOnlyCodesTheGatewayAnswersEachWithItsStatus() throws {
        let rows = Self.statusRows(try Self.document("api.md"), codeColumnOnly: false)
        #expect(rows.count >= 10, "api.md's status tables are read")
        for row in rows {
            for code in row.codes {
                let known = GatewayRefusal.Code(rawValue: code)
                #expect(known != nil, "api.md names \(code), which the gateway never answers")
                if let known {
                    #expect(
                        Int(known.status.code) == row.status,
                        "api.md: \(code) under \(row.status), answered with \(known.status.code)"
                    )
                }
            }
        }
    }

    /// The `action` filter of `GET /v1/audit/entries` lists every action an entry can have.
    @Test func apiMdListsEveryAuditActionAsAFilterAndNoOther() throws {
        let text = try Self.document("api.md")
        let start = try #require(text.range(of: "`action` (")?.upperBound)
        let end = try #require(text[start...].range(of: ")")?.lowerBound)
        let listed = Set(
            text[start..<end].split(separator: "`", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 1 }.map { String($0.element) }
        )
        let actions = Set(AuditEvent.Action.allCases.map(\.rawValue))
        #expect(
            listed == actions,
            "missing: \(actions.subtracting(listed).sorted()), extra: \(listed.subtracting(actions).sorted())"
        )
    }

    @Test func aPolicyDenialAndAnEnvelopeErrorAnswerWithTheirOwnCodes() {
        let denials: [Denial.Code] = [
            .unknownOrganisation, .wrongRole, .unknownPurpose, .noGrant, .datasetNotAllowed,
            .unknownSigningKey, .sourceMismatch,
        ]
        for denial in denials {
            let refusal = GatewayRefusal(Denial(denial, "why"))
            #expect(
                refusal.code.rawValue == denial.rawValue && refusal.status == .forbidden && refusal.message == "why"
            )
        }
        let envelope: [(EnvelopeError.Code, GatewayRefusal.Code)] = [
            (.malformed, .envelopeMalformed), (.unsupportedVersion, .envelopeUnsupportedVersion),
            (.wrongRecipient, .envelopeWrongRecipient),
            (.payloadKeyUnreadable, .envelopePayloadKeyUnreadable), (.decryptionFailed, .envelopeDecryptionFailed),
            (.truncated, .envelopeTruncated),
            (.trailingData, .envelopeTrailingData), (.badSignature, .envelopeBadSignature),
            (.tooLarge, .envelopeTooLarge),
            // The policy refuses an unregistered key first; the reader's finding answers the same.
            (.unknownSigningKey, .unknownSigningKey),
        ]
        for (error, expected) in envelope {
            #expect(GatewayRefusal(EnvelopeError(error, "why")).code == expected, "\(error)")
        }
        #expect(GatewayRefusal(EnvelopeError(.tooLarge, "")).status == .contentTooLarge)
    }

    @Test func theErrorBodyIsJSONWithTheCodeAndTheMessageEscaped() throws {
        let response = GatewayRefusal(.rateLimited, #"a "quoted" \ line"#, retryAfter: 7).response()
        #expect(response.status.code == 429)
        #expect(response.headers[.retryAfter] == "7" && response.headers[.contentType] == "application/json")
        let body =
            try JSONSerialization.jsonObject(with: Data(GatewayRefusal(.rateLimited, #"a "quoted" \ line"#).body))
            as? [String: String]
        #expect(body == ["error": "rate_limited", "message": #"a "quoted" \ line"#])
    }
}
