import VangnetCore

/// A field value that passed its schema type. Never a BSN: that is held apart in ``ValidatedRecord/bsn``.
public enum FieldValue: Sendable, Hashable {
    case text(String)
    case integer(Int)
    case boolean(Bool)
}

/// A record that passed its dataset's validation.
///
/// Only ``RecordValidator`` makes one. It holds the BSN, so it must not leave the ingest stage:
/// the pseudonymisation stage consumes it and returns a record without the BSN.
public struct ValidatedRecord: Sendable {
    public let dataset: DatasetID
    /// 1-based line number in the batch payload.
    public let line: Int
    public let bsn: BSN
    public let municipality: MunicipalityCode
    /// The other fields present in the record (the BSN excluded) as one flat JSON object: what
    /// the store keeps. Built during validation, so ingest never re-encodes a record.
    public let storedFields: String

    /// The fields as values (decoded from ``storedFields``; for tests and tools, not the hot path).
    public var fields: [String: FieldValue] { FlatJSON.decodeFields(storedFields) }

    init(dataset: DatasetID, line: Int, bsn: BSN, municipality: MunicipalityCode, storedFields: String) {
        self.dataset = dataset
        self.line = line
        self.bsn = bsn
        self.municipality = municipality
        self.storedFields = storedFields
    }
}

/// Why one record was rejected. Names a field of the schema at most; never a value, and never a
/// key the schema does not have (that is input too).
public struct RecordRejection: Error, Sendable, Hashable, Codable {
    /// Stable reason codes, documented in `docs/envelope.md`.
    public enum Reason: String, Sendable, Codable, CaseIterable {
        case invalidJSON = "invalid_json"
        case recordTooLarge = "record_too_large"
        case missingField = "missing_field"
        case unknownField = "unknown_field"
        case invalidType = "invalid_type"
        case invalidBSN = "invalid_bsn"
        case invalidMunicipalityCode = "invalid_municipality_code"
        case unknownMunicipality = "unknown_municipality"
        case invalidDate = "invalid_date"
        case invalidValue = "invalid_value"
    }

    public let line: Int
    public let reason: Reason
    public let field: String?

    public init(line: Int, reason: Reason, field: String? = nil) {
        self.line = line
        self.reason = reason
        self.field = field
    }
}
