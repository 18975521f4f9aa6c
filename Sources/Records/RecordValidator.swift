import VangnetCore

/// Validates NDJSON lines against a dataset schema.
///
/// A pure function of its input: no logging, no I/O. A line either becomes a
/// ``ValidatedRecord`` or a ``RecordRejection`` naming the line and the reason. It works on the
/// line's bytes: keys are matched and values checked without creating strings, and the record's
/// stored form is written as each field passes.
package struct RecordValidator: Sendable {
    package let schema: DatasetSchema
    private let reference: ReferenceData
    private let maxRecordBytes: Int
    /// `YYYY-MM-DD` of the day the batch was made, for ``DateRule/notAfterCreation(_:)``.
    private let createdOn: [UInt8]?
    /// Per field position, the slot its value takes if a date rule reads it.
    private let dateSlots: [Int?]
    private let dateSlotCount: Int
    /// Per date rule, the slots of its field and of the date it is compared with.
    private let ruleSlots: [(field: Int, earlier: Int?)]
    /// The position of the schema's institution field, and the values the sender may give it.
    private let institution: (position: Int, allowed: [[UInt8]])?
    /// What every stored object starts with: `{`, and for version 2 and later the version the
    /// record follows (``DatasetSchema/versionMember``).
    private let storedStart: [UInt8]

    /// - Parameters:
    ///   - createdOn: the day in the Netherlands of the batch's `createdAt`; without it, no date is
    ///     checked against the day the batch was made (a tool that validates records outside a batch).
    ///   - institutions: the BRIN numbers of the sending institution: a record whose institution
    ///     field (``DatasetSchema/institutionField``) names another is `institution_mismatch`.
    ///     `nil`: not checked (a tool, or a dataset without one).
    package init(
        schema: DatasetSchema,
        reference: ReferenceData = .embedded,
        maxRecordBytes: Int = 16 * 1024,
        createdOn: CalendarDate? = nil,
        institutions: [String]? = nil
    ) {
        self.schema = schema
        self.storedStart = Array(
            (schema.version > 1 ? "{\"\(DatasetSchema.versionMember)\":\(schema.version)" : "{").utf8
        )
        if let field = schema.institutionField, let institutions {
            institution = (schema.fields.firstIndex { $0.name == field }!, institutions.map { Array($0.utf8) })
        } else {
            institution = nil
        }
        self.reference = reference
        self.maxRecordBytes = maxRecordBytes
        self.createdOn = createdOn.map { Array($0.description.utf8) }
        var slots = [Int?](repeating: nil, count: schema.fields.count)
        var count = 0
        func slot(_ name: String) -> Int {
            let position = schema.fields.firstIndex { $0.name == name }!
            if let s = slots[position] { return s }
            slots[position] = count
            count += 1
            return count - 1
        }
        self.ruleSlots = schema.dateRules.map { rule in
            switch rule {
            case .notBefore(let field, let earlier): (slot(field), slot(earlier))
            case .notAfterCreation(let field): (slot(field), nil)
            }
        }
        self.dateSlots = slots
        self.dateSlotCount = count
    }

    /// Validates one line (without its newline) of a batch that holds records only (a complete
    /// picture): a withdrawal is refused (`withdrawal_not_allowed`).
    package func validate(line bytes: UnsafeRawBufferPointer, number: Int) -> Result<ValidatedRecord, RecordRejection> {
        switch check(line: bytes, number: number, withdrawals: false) {
        case .success(.record(let record)): .success(record)
        case .success(.withdrawal):
            .failure(RecordRejection(line: number, reason: .withdrawalNotAllowed, field: "withdrawn"))
        case .failure(let rejection): .failure(rejection)
        }
    }

    /// Validates one line of a batch of changes: a record (added or changed) or a withdrawal
    /// (`"withdrawn": true` with the BSN and the key fields, nothing else).
    package func validateChange(
        line bytes: UnsafeRawBufferPointer,
        number: Int
    ) -> Result<ValidatedLine, RecordRejection> {
        check(line: bytes, number: number, withdrawals: true)
    }

    private static let withdrawnKey = Array("withdrawn".utf8)

    private func check(
        line bytes: UnsafeRawBufferPointer,
        number: Int,
        withdrawals: Bool
    ) -> Result<ValidatedLine, RecordRejection> {
        func reject(_ reason: RecordRejection.Reason, _ field: String? = nil) -> Result<ValidatedLine, RecordRejection>
        {
            .failure(RecordRejection(line: number, reason: reason, field: field))
        }
        guard bytes.count <= maxRecordBytes else { return reject(.recordTooLarge) }
        var pairs: [FlatJSON.RawPair] = []
        pairs.reserveCapacity(schema.fields.count)
        do { try FlatJSON.scanObject(bytes, into: &pairs) } catch { return reject(.invalidJSON) }

        var bsn: BSN?
        var municipality: MunicipalityCode?
        var present: UInt64 = 0  // bit k: field k was given (a schema has at most 64 fields)
        var stored = storedStart
        stored.reserveCapacity(bytes.count + storedStart.count)
        var next = 0  // keys usually come in schema order: look there first
        var withdrawn = false
        var keyValues = [Range<Int>](repeating: 0..<0, count: schema.keyPositions.count)
        var dates = [Range<Int>](repeating: 0..<0, count: dateSlotCount)  // the dates the rules compare
        for pair in pairs {
            let key = UnsafeRawBufferPointer(rebasing: bytes[pair.key])
            // An unknown key is not named in the rejection: it is input, and could hold a BSN.
            guard let position = schema.position(ofKeyBytes: key, startingAt: next) else {
                guard key.elementsEqual(Self.withdrawnKey) else { return reject(.unknownField) }
                guard !withdrawn, pair.kind == .true else { return reject(.invalidValue, "withdrawn") }
                withdrawn = true
                continue
            }
            if let k = schema.keyPositions.firstIndex(of: position) { keyValues[k] = pair.value }
            next = position + 1
            let spec = schema.fields[position]
            guard present & (1 << position) == 0 else { return reject(.invalidJSON) }  // a key given twice
            if pair.kind == .null {
                if spec.required { return reject(.missingField, spec.name) }
                continue
            }
            present |= 1 << position
            let raw = UnsafeRawBufferPointer(rebasing: bytes[pair.value])
            switch (spec.type, pair.kind) {
            case (.bsn, .string):
                guard let parsed = BSN(utf8: Array(raw)) else { return reject(.invalidBSN, spec.name) }
                bsn = parsed
                continue  // the BSN is never part of the stored record
            case (.municipality, .string):
                guard let code = Self.municipalityNumber(raw) else {
                    return reject(.invalidMunicipalityCode, spec.name)
                }
                guard reference.region(ofMunicipalityNumber: code) != nil else {
                    return reject(.unknownMunicipality, spec.name)
                }
                if spec.name == schema.municipalityField {
                    municipality = MunicipalityCode(String(decoding: raw, as: UTF8.self))
                }
            case (.date, .string):
                guard CalendarDate(ascii: raw) != nil else { return reject(.invalidDate, spec.name) }
                if let slot = dateSlots[position] { dates[slot] = pair.value }
            case (.month, .string):
                guard raw.count == 7, Self.isMonth(raw) else { return reject(.invalidDate, spec.name) }
            case (.enumeration(let allowed), .string):
                guard allowed.contains(where: { $0.utf8.count == raw.count && $0.utf8.elementsEqual(raw) }) else {
                    return reject(.invalidValue, spec.name)
                }
            case (.code(let format), .string):
                guard Self.matches(raw, format: format) else { return reject(.invalidValue, spec.name) }
                if let institution, institution.position == position,
                    !institution.allowed.contains(where: { $0.elementsEqual(raw) })
                {
                    return reject(.institutionMismatch, spec.name)
                }
            case (.boolean, .true), (.boolean, .false):
                break
            case (.integer(let range), .number):
                guard let (value, plain) = Self.integer(raw) else { return reject(.invalidType, spec.name) }
                guard range.contains(value) else { return reject(.invalidValue, spec.name) }
                if !plain {
                    // Stored as its plain digits, whichever way the source wrote the number.
                    Array(String(value).utf8).withUnsafeBytes {
                        Self.keep(key: key, value: $0, quoted: false, into: &stored)
                    }
                    continue
                }
            case (.decimal(let range, let places), .number):
                guard let (units, plain) = Self.scaled(raw, places: places) else {
                    return reject(.invalidValue, spec.name)  // more decimals than the field has
                }
                guard units >= range.lowerBound * Self.scales[places], units <= range.upperBound * Self.scales[places]
                else {
                    return reject(.invalidValue, spec.name)
                }
                if !plain {
                    Array(Self.decimalText(units: units, places: places).utf8).withUnsafeBytes {
                        Self.keep(key: key, value: $0, quoted: false, into: &stored)
                    }
                    continue
                }
            case (.bsn, .escapedString):
                return reject(.invalidBSN, spec.name)
            case (_, .escapedString):
                // No field type admits a backslash; an escaped string is never a valid value.
                return reject(.invalidValue, spec.name)
            default:
                return reject(.invalidType, spec.name)
            }
            Self.keep(key: key, value: raw, quoted: pair.kind == .string, into: &stored)
        }
        var identity: [UInt8] = []
        identity.reserveCapacity(32)
        for range in keyValues {
            identity.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[range]))
            identity.append(0)
        }
        if withdrawn {
            guard withdrawals else { return reject(.withdrawalNotAllowed, "withdrawn") }
            // The BSN and the key fields name the record; any other field is a mistake.
            for position in schema.keyPositions where present & (1 << position) == 0 {
                return reject(.missingField, schema.fields[position].name)
            }
            guard let bsn else { return reject(.missingField, schema.bsnField) }
            let bsnPosition = schema.fields.firstIndex { $0.name == schema.bsnField }!
            let keyBits = schema.keyPositions.reduce(UInt64(1) << bsnPosition) { $0 | 1 << $1 }
            if let extra = schema.fields.indices.first(where: { present & ~keyBits & (1 << $0) != 0 }) {
                return reject(.withdrawalWithFields, schema.fields[extra].name)
            }
            return .success(
                .withdrawal(ValidatedWithdrawal(dataset: schema.id, line: number, bsn: bsn, identity: identity))
            )
        }
        for (position, spec) in schema.fields.enumerated() where spec.required && present & (1 << position) == 0 {
            return reject(.missingField, spec.name)
        }
        guard let bsn, let municipality else { return reject(.missingField, schema.bsnField) }
        // Dates are `YYYY-MM-DD`, so their bytes sort as the days do.
        func isBefore(_ a: Range<Int>, _ b: UnsafeRawBufferPointer) -> Bool {
            UnsafeRawBufferPointer(rebasing: bytes[a]).lexicographicallyPrecedes(b)
        }
        for (rule, slots) in zip(schema.dateRules, ruleSlots) {
            let value = dates[slots.field]
            guard !value.isEmpty else { continue }  // an optional date not given
            if let earlier = slots.earlier {
                let other = dates[earlier]
                if !other.isEmpty, isBefore(value, UnsafeRawBufferPointer(rebasing: bytes[other])) {
                    return reject(.datesOutOfOrder, rule.field)
                }
            } else if let createdOn {
                let after = createdOn.withUnsafeBytes { day in
                    day.lexicographicallyPrecedes(UnsafeRawBufferPointer(rebasing: bytes[value]))
                }
                if after { return reject(.dateAfterCreation, rule.field) }
            }
        }
        stored.append(0x7D)
        return .success(
            .record(
                ValidatedRecord(
                    dataset: schema.id,
                    line: number,
                    bsn: bsn,
                    municipality: municipality,
                    storedFields: String(decoding: stored, as: UTF8.self),
                    identity: identity
                )
            )
        )
    }

    /// Convenience for tests and tools: validates a line given as a string.
    package func validate(line: String, number: Int) -> Result<ValidatedRecord, RecordRejection> {
        var copy = line
        return copy.withUTF8 { validate(line: UnsafeRawBufferPointer($0), number: number) }
    }

    /// Convenience for tests and tools: validates a line of a batch of changes given as a string.
    package func validateChange(line: String, number: Int) -> Result<ValidatedLine, RecordRejection> {
        var copy = line
        return copy.withUTF8 { validateChange(line: UnsafeRawBufferPointer($0), number: number) }
    }

    /// Appends `,"key":value` (or without the comma first) to the stored object. The bytes were
    /// checked to be plain ASCII without quotes or backslashes, so they are copied as they are.
    private static func keep(
        key: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        quoted: Bool,
        into stored: inout [UInt8]
    ) {
        if stored.count > 1 { stored.append(0x2C) }
        stored.append(0x22)
        stored.append(contentsOf: key)
        stored.append(0x22)
        stored.append(0x3A)
        if quoted { stored.append(0x22) }
        stored.append(contentsOf: value)
        if quoted { stored.append(0x22) }
    }

    /// `GMdddd` -> dddd.
    private static func municipalityNumber(_ raw: UnsafeRawBufferPointer) -> Int? {
        guard raw.count == 6, raw[0] == 0x47, raw[1] == 0x4D else { return nil }
        var n = 0
        for k in 2..<6 {
            guard (0x30...0x39).contains(raw[k]) else { return nil }
            n = n * 10 + Int(raw[k] - 0x30)
        }
        return n
    }

    /// `YYYY-MM` naming a real month.
    private static func isMonth(_ raw: UnsafeRawBufferPointer) -> Bool {
        var day = Array(raw)
        day.append(contentsOf: Array("-01".utf8))
        return day.withUnsafeBytes { CalendarDate(ascii: $0) } != nil
    }

    /// The value of a JSON number (RFC 8259's grammar, which ``FlatJSON`` checked) if it is a
    /// whole number within `Int`'s range: `10`, `10.0`, `1e1` and `100E-1` are all 10; `10.5` is
    /// none. `plain`: written as digits alone (with an optional minus), so stored as written.
    static func integer(_ raw: UnsafeRawBufferPointer) -> (value: Int, plain: Bool)? {
        scaled(raw, places: 0).map { ($0.units, $0.plain) }
    }

    /// The value of a JSON number in units of 10^-`places` (`32.5` with 2 places is 3250), if it
    /// has at most `places` digits after the point and fits `Int`. `plain`: written as digits
    /// alone (with an optional minus, not `-0`), which is already its stored form.
    static func scaled(_ raw: UnsafeRawBufferPointer, places: Int) -> (units: Int, plain: Bool)? {
        let negative = raw.first == 0x2D
        var value = 0
        func push(_ digit: Int) -> Bool {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(digit)
            value = sum
            return !o1 && !o2
        }
        if isPlainInteger(raw) {
            // The usual form, without allocating.
            for digit in raw.dropFirst(negative ? 1 : 0) { guard push(Int(digit - 0x30)) else { return nil } }
            for _ in 0..<places { guard push(0) else { return nil } }
            return (negative ? -value : value, !(negative && value == 0))
        }
        var k = negative ? 1 : 0
        var digits: [UInt8] = []  // of the integer and fraction parts, the point after `point` of them
        while k < raw.count, (0x30...0x39).contains(raw[k]) {
            digits.append(raw[k] - 0x30)
            k += 1
        }
        var point = digits.count + places
        if k < raw.count, raw[k] == 0x2E {
            k += 1
            while k < raw.count, (0x30...0x39).contains(raw[k]) {
                digits.append(raw[k] - 0x30)
                k += 1
            }
        }
        if k < raw.count, raw[k] == 0x65 || raw[k] == 0x45 {
            k += 1
            let negativeExponent = raw[k] == 0x2D
            if raw[k] == 0x2D || raw[k] == 0x2B { k += 1 }
            var exponent = 0
            while k < raw.count {
                // Beyond 10^40 an exponent moves every digit out of range (or makes a zero).
                exponent = min(exponent * 10 + Int(raw[k] - 0x30), 1_000)
                k += 1
            }
            point += negativeExponent ? -exponent : exponent
        }
        guard k == raw.count else { return nil }
        // Digits after the point must be zeros; those before it (padded with zeros) are the value.
        let whole = digits.prefix(max(0, point))
        guard digits.dropFirst(max(0, point)).allSatisfy({ $0 == 0 }) else { return nil }
        if whole.allSatisfy({ $0 == 0 }) { return (0, false) }
        guard point <= 19 else { return nil }
        for digit in whole + repeatElement(0, count: max(0, point - digits.count)) {
            guard push(Int(digit)) else { return nil }
        }
        return (negative ? -value : value, false)
    }

    /// 10^`places`, for the places a decimal field may have (``FieldType/decimal(_:places:)``).
    static let scales = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]

    /// A number in units of 10^-`places` in its shortest JSON form: 3250 with 2 places is `32.5`,
    /// 3200 is `32`.
    package static func decimalText(units: Int, places: Int) -> String {
        let scale = scales[places]
        let magnitude = units.magnitude
        var text = (units < 0 ? "-" : "") + String(magnitude / UInt(scale))
        var fraction = String(magnitude % UInt(scale))
        guard fraction != "0" else { return text }
        fraction = String(repeating: "0", count: places - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        text += "." + fraction
        return text
    }

    /// A number written as digits alone, with an optional minus (no fraction, no exponent).
    private static func isPlainInteger(_ raw: UnsafeRawBufferPointer) -> Bool {
        raw.dropFirst(raw.first == 0x2D ? 1 : 0).allSatisfy { (0x30...0x39).contains($0) }
    }

    /// Whether `code` has the form `format` (per position `9` a digit, `A` a capital letter).
    package static func matches(code: String, format: String) -> Bool {
        Array(code.utf8).withUnsafeBytes { matches($0, format: format) }
    }

    /// A code of the form `format`: per position `9` a digit, `A` a capital letter.
    private static func matches(_ raw: UnsafeRawBufferPointer, format: String) -> Bool {
        raw.count == format.utf8.count
            && zip(raw, format.utf8).allSatisfy { c, f in
                f == 0x39 ? (0x30...0x39).contains(c) : (0x41...0x5A).contains(c)
            }
    }
}
