import VangnetCore

/// A field value that passed its schema type. Never a BSN: that is held apart in ``ValidatedRecord/bsn``.
package enum FieldValue: Sendable, Hashable {
    case text(String)
    case integer(Int)
    /// A number with a fraction, in its shortest JSON form (`32.5`); a whole one is ``integer(_:)``.
    case decimal(String)
    case boolean(Bool)
}

/// A record that passed its dataset's validation.
///
/// Made by ``RecordValidator`` alone (an initialiser internal to this module). It holds the BSN,
/// so it must not leave the ingest stage: the pseudonymisation stage takes it and returns a
/// record without the BSN.
package struct ValidatedRecord: Sendable {
    package let dataset: DatasetID
    /// 1-based line number in the batch payload.
    package let line: Int
    package let bsn: BSN
    package let municipality: MunicipalityCode
    /// The other fields present in the record (the BSN excluded) as one flat JSON object: what
    /// the store keeps. Built during validation, so ingest never re-encodes a record.
    package let storedFields: String
    /// The values of the schema's key fields (``DatasetSchema/identity(of:)``): with the person,
    /// what identifies the record within its dataset.
    package let identity: [UInt8]

    /// The fields as values (decoded from ``storedFields``; for tests and tools, not the hot path).
    package var fields: [String: FieldValue] { FlatJSON.decodeFields(storedFields) }

    init(
        dataset: DatasetID,
        line: Int,
        bsn: BSN,
        municipality: MunicipalityCode,
        storedFields: String,
        identity: [UInt8]
    ) {
        self.dataset = dataset
        self.line = line
        self.bsn = bsn
        self.municipality = municipality
        self.storedFields = storedFields
        self.identity = identity
    }
}

/// A line of a batch of changes that withdraws a record: the person and the key fields, no more.
/// Holds the BSN, so like ``ValidatedRecord`` it goes no further than pseudonymisation.
package struct ValidatedWithdrawal: Sendable {
    package let dataset: DatasetID
    package let line: Int
    package let bsn: BSN
    /// The values of the key fields, as in ``ValidatedRecord/identity``.
    package let identity: [UInt8]
}

/// A validated line of a batch of changes.
package enum ValidatedLine: Sendable {
    case record(ValidatedRecord)
    case withdrawal(ValidatedWithdrawal)
}

/// Why one record was rejected. Names a field of the schema at most; never a value, and never a
/// key the schema does not have (that is input too).
package struct RecordRejection: Error, Sendable, Hashable, Codable {
    /// Stable reason codes, documented in `docs/envelope.md`.
    package enum Reason: String, Sendable, Codable, CaseIterable {
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
        /// A withdrawal (`"withdrawn": true`) in a batch that is a complete picture.
        case withdrawalNotAllowed = "withdrawal_not_allowed"
        /// A withdrawal that carries fields other than the BSN and the key fields.
        case withdrawalWithFields = "withdrawal_with_fields"
        /// A date before the date it may not precede (an exit before its entry).
        case datesOutOfOrder = "dates_out_of_order"
        /// A date after the day the batch was made (a birth date in the future).
        case dateAfterCreation = "date_after_creation"
        /// A second line in one batch for the record (same person and key fields) of an earlier line.
        case duplicateRecord = "duplicate_record"
        /// The institution field names a BRIN that is not one of the sending institution's.
        case institutionMismatch = "institution_mismatch"
    }

    package let line: Int
    package let reason: Reason
    package let field: String?

    package init(line: Int, reason: Reason, field: String? = nil) {
        self.line = line
        self.reason = reason
        self.field = field
    }
}
