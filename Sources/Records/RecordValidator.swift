import VangnetCore

/// Validates NDJSON lines against a dataset schema.
///
/// A pure function of its input: no logging, no I/O. A line either becomes a
/// ``ValidatedRecord`` or a ``RecordRejection`` naming the line and the reason.
public struct RecordValidator: Sendable {
    public let schema: DatasetSchema
    private let reference: ReferenceData
    private let maxRecordBytes: Int

    public init(schema: DatasetSchema, reference: ReferenceData = .embedded, maxRecordBytes: Int = 16 * 1024) {
        self.schema = schema
        self.reference = reference
        self.maxRecordBytes = maxRecordBytes
    }

    /// Validates one line (without its newline) of the payload.
    public func validate(line bytes: UnsafeRawBufferPointer, number: Int) -> Result<ValidatedRecord, RecordRejection> {
        func reject(_ reason: RecordRejection.Reason, _ field: String? = nil) -> Result<ValidatedRecord, RecordRejection> {
            .failure(RecordRejection(line: number, reason: reason, field: field))
        }
        guard bytes.count <= maxRecordBytes else { return reject(.recordTooLarge) }
        let pairs: [(key: String, value: JSONScalar)]
        do { pairs = try FlatJSON.parseObject(bytes) } catch { return reject(.invalidJSON) }

        var bsn: BSN?
        var municipality: MunicipalityCode?
        var fields: [String: FieldValue] = [:]
        for (key, value) in pairs {
            guard let spec = schema.field(named: key) else { return reject(.unknownField, key) }
            if value == .null {
                if spec.required { return reject(.missingField, key) }
                continue
            }
            switch (spec.type, value) {
            case (.bsn, .string(let s)):
                guard let parsed = BSN(s) else { return reject(.invalidBSN, key) }
                bsn = parsed
            case (.municipality, .string(let s)):
                guard let code = MunicipalityCode(s) else { return reject(.invalidMunicipalityCode, key) }
                guard reference.municipalities[code] != nil else { return reject(.unknownMunicipality, key) }
                if key == schema.municipalityField { municipality = code }
                fields[key] = .text(s)
            case (.date, .string(let s)):
                guard CalendarDate(s) != nil else { return reject(.invalidDate, key) }
                fields[key] = .text(s)
            case (.month, .string(let s)):
                guard CalendarDate(s + "-01") != nil, s.utf8.count == 7 else { return reject(.invalidDate, key) }
                fields[key] = .text(s)
            case (.enumeration(let allowed), .string(let s)):
                guard allowed.contains(s) else { return reject(.invalidValue, key) }
                fields[key] = .text(s)
            case (.code(let lengths), .string(let s)):
                guard lengths.contains(s.utf8.count), s.utf8.allSatisfy(Self.isAlphanumeric) else { return reject(.invalidValue, key) }
                fields[key] = .text(s)
            case (.boolean, .bool(let b)):
                fields[key] = .boolean(b)
            case (.integer(let range), .number(let n)):
                guard let i = Int(n) else { return reject(.invalidType, key) }
                guard range.contains(i) else { return reject(.invalidValue, key) }
                fields[key] = .integer(i)
            default:
                return reject(spec.type == .bsn ? .invalidBSN : .invalidType, key)
            }
        }
        for spec in schema.fields where spec.required {
            let present = spec.type == .bsn ? bsn != nil : fields[spec.name] != nil
            if !present { return reject(.missingField, spec.name) }
        }
        guard let bsn, let municipality else { return reject(.missingField, schema.bsnField) }
        return .success(ValidatedRecord(dataset: schema.id, line: number, bsn: bsn, municipality: municipality, fields: fields))
    }

    /// Convenience for tests and tools: validates a line given as a string.
    public func validate(line: String, number: Int) -> Result<ValidatedRecord, RecordRejection> {
        var copy = line
        return copy.withUTF8 { validate(line: UnsafeRawBufferPointer($0), number: number) }
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
    }
}
