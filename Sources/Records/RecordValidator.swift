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
        var present = [Bool](repeating: false, count: schema.fields.count)
        var stored: [UInt8] = [0x7B]
        stored.reserveCapacity(bytes.count)
        func keep(_ key: String, _ value: FieldValue) {
            if stored.count > 1 { stored.append(0x2C) }
            FlatJSON.appendString(key, to: &stored)
            stored.append(0x3A)
            FlatJSON.appendValue(value, to: &stored)
        }
        for (key, value) in pairs {
            guard let position = schema.position(of: key) else { return reject(.unknownField, key) }
            let spec = schema.fields[position]
            if value == .null {
                if spec.required { return reject(.missingField, key) }
                continue
            }
            present[position] = true
            switch (spec.type, value) {
            case (.bsn, .string(let s)):
                guard let parsed = BSN(s) else { return reject(.invalidBSN, key) }
                bsn = parsed
            case (.municipality, .string(let s)):
                guard let code = MunicipalityCode(s) else { return reject(.invalidMunicipalityCode, key) }
                guard reference.municipalities[code] != nil else { return reject(.unknownMunicipality, key) }
                if key == schema.municipalityField { municipality = code }
                keep(key, .text(s))
            case (.date, .string(let s)):
                guard CalendarDate(s) != nil else { return reject(.invalidDate, key) }
                keep(key, .text(s))
            case (.month, .string(let s)):
                guard CalendarDate(s + "-01") != nil, s.utf8.count == 7 else { return reject(.invalidDate, key) }
                keep(key, .text(s))
            case (.enumeration(let allowed), .string(let s)):
                guard allowed.contains(s) else { return reject(.invalidValue, key) }
                keep(key, .text(s))
            case (.code(let lengths), .string(let s)):
                guard lengths.contains(s.utf8.count), s.utf8.allSatisfy(Self.isAlphanumeric) else { return reject(.invalidValue, key) }
                keep(key, .text(s))
            case (.boolean, .bool(let b)):
                keep(key, .boolean(b))
            case (.integer(let range), .number(let n)):
                guard let i = Int(n) else { return reject(.invalidType, key) }
                guard range.contains(i) else { return reject(.invalidValue, key) }
                keep(key, .integer(i))
            default:
                return reject(spec.type == .bsn ? .invalidBSN : .invalidType, key)
            }
        }
        for (position, spec) in schema.fields.enumerated() where spec.required && !present[position] {
            return reject(.missingField, spec.name)
        }
        guard let bsn, let municipality else { return reject(.missingField, schema.bsnField) }
        stored.append(0x7D)
        return .success(ValidatedRecord(dataset: schema.id, line: number, bsn: bsn, municipality: municipality,
                                        storedFields: String(decoding: stored, as: UTF8.self)))
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
