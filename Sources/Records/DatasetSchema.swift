import VangnetCore

#if canImport(Glibc)
import Glibc
#endif

/// The type of a record field and what values it admits.
package enum FieldType: Sendable, Hashable {
    /// A BSN (string, elfproef). Exactly one field of a dataset has this type.
    case bsn
    /// A CBS municipality code that exists in the reference list.
    case municipality
    /// A calendar date, `YYYY-MM-DD`.
    case date
    /// A calendar month, `YYYY-MM`.
    case month
    /// One of a fixed list of strings.
    case enumeration([String])
    /// `true` or `false`.
    case boolean
    /// An integer within the range.
    case integer(ClosedRange<Int>)
    /// A number within the range with at most `places` (0 to 6) digits after the point (hours
    /// per week: `32.5`). Stored in its shortest form: `32.50` and `3.25e1` are `32.5`, `32.0` is `32`.
    case decimal(ClosedRange<Int>, places: Int)
    /// A code of a fixed form, one character per position of `format`: `9` a digit, `A` a capital
    /// letter. BRIN is `99AA`, crebo `99999`.
    case code(String)
}

extension FieldType: CustomStringConvertible {
    /// The type in words, for messages: `date`, `one of vo, vso, pro, mbo`, `integer 0-80`.
    package var description: String {
        switch self {
        case .bsn: "BSN"
        case .municipality: "municipality code"
        case .date: "date"
        case .month: "month"
        case .enumeration(let values): "one of " + values.joined(separator: ", ")
        case .boolean: "boolean"
        case .integer(let range): "integer \(range.lowerBound)-\(range.upperBound)"
        case .decimal(let range, let places):
            "number \(range.lowerBound)-\(range.upperBound) with at most \(places) decimals"
        case .code(let format): "code \(format) (9 a digit, A a capital letter)"
        }
    }
}

/// One field of a dataset.
package struct FieldSpec: Sendable, Hashable {
    package let name: String
    package let type: FieldType
    package let required: Bool

    package init(_ name: String, _ type: FieldType, required: Bool = true) {
        self.name = name
        self.type = type
        self.required = required
    }
}

/// A rule between a date field and another date, checked once every field of the record is valid.
/// An absent optional field meets every rule.
package enum DateRule: Sendable, Hashable {
    /// `field` is not before `earlier` (the same day is allowed): an exit is not before its entry.
    /// Refused as `dates_out_of_order`, naming `field`.
    case notBefore(_ field: String, earlier: String)
    /// `field` is not after the day the batch was made: the date in the Netherlands
    /// (Europe/Amsterdam) of the header's `createdAt`. No one is born in the future. Refused as `date_after_creation`, naming `field`.
    case notAfterCreation(_ field: String)

    /// The field the rule is about, which a refusal names.
    package var field: String {
        switch self {
        case .notBefore(let field, _), .notAfterCreation(let field): field
        }
    }
}

/// A named, versioned record schema: its fields, which holds the BSN and which the municipality.
package struct DatasetSchema: Sendable {
    package let id: DatasetID
    package let version: Int
    package let fields: [FieldSpec]
    /// The name of the field of type ``FieldType/bsn``.
    package let bsnField: String
    /// The name of the field of type ``FieldType/municipality`` that routes the record.
    package let municipalityField: String
    /// The fields that, with the BSN, identify a record: a later record of the same person with the
    /// same values of these fields replaces it, and a withdrawal names them. Required fields.
    package let keyFields: [String]
    /// The rules between dates, in the order they are checked.
    package let dateRules: [DateRule]
    /// The field (a required code, a BRIN) that names the institution reporting the record, for a
    /// dataset institutions send: the policy binds each institution to its BRIN numbers, and a
    /// record naming another is refused (`institution_mismatch`).
    package let institutionField: String?
    /// What the dataset holds and where it comes from, in words.
    package let description: String?
    /// The positions of ``keyFields`` in ``fields``.
    let keyPositions: [Int]
    private let nameBytes: [[UInt8]]

    package init(
        id: DatasetID,
        version: Int,
        fields: [FieldSpec],
        key keyFields: [String],
        dateRules: [DateRule] = [],
        institutionField: String? = nil,
        description: String? = nil
    ) {
        guard let bsn = fields.first(where: { $0.type == .bsn }),
            let municipality = fields.first(where: { $0.type == .municipality })
        else {
            preconditionFailure("a dataset schema needs a BSN field and a municipality field")
        }
        precondition(
            fields.count <= 64,
            "a dataset schema has at most 64 fields (the validator keeps them in a bit set)"
        )
        for field in fields {
            if case .decimal(_, let places) = field.type {
                precondition((0...6).contains(places), "a decimal field has 0 to 6 places")
            }
        }
        self.id = id
        self.version = version
        self.fields = fields
        self.bsnField = bsn.name
        self.municipalityField = municipality.name
        self.keyFields = keyFields
        self.keyPositions = keyFields.map { name in
            guard let k = fields.firstIndex(where: { $0.name == name }), fields[k].required, fields[k].type != .bsn
            else {
                preconditionFailure("a key field is a required field of the schema other than the BSN")
            }
            return k
        }
        self.nameBytes = fields.map { Array($0.name.utf8) }
        self.dateRules = dateRules
        self.institutionField = institutionField
        self.description = description
        if let institutionField {
            guard let field = fields.first(where: { $0.name == institutionField }), field.required,
                case .code = field.type
            else { preconditionFailure("the institution field is a required code field of the schema") }
        }
        for rule in dateRules {
            var names = [rule.field]
            if case .notBefore(_, let earlier) = rule { names.append(earlier) }
            precondition(
                names.allSatisfy { name in fields.contains { $0.name == name && $0.type == .date } },
                "a date rule names date fields of the schema"
            )
        }
    }

    /// The index of the field whose name is `key` (UTF-8 bytes), comparing bytes: no string is made.
    package func position(ofKeyBytes key: UnsafeRawBufferPointer, startingAt start: Int = 0) -> Int? {
        func matches(_ k: Int) -> Bool {
            nameBytes[k].count == key.count
                && nameBytes[k].withUnsafeBytes { memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }
        }
        let n = nameBytes.count
        for offset in 0..<n {
            let k = (start + offset) % n
            if matches(k) { return k }
        }
        return nil
    }

    /// The field spec named `name`, if the schema has one.
    package func field(named name: String) -> FieldSpec? { fields.first { $0.name == name } }

    /// A record's identity within the dataset, apart from its person: the values of the key fields
    /// in schema order, each followed by a zero byte. The validator writes the same bytes from a
    /// line as this from the stored fields.
    package func identity(of fields: [String: FieldValue]) -> [UInt8] {
        var out: [UInt8] = []
        for name in keyFields {
            switch fields[name] {
            case .text(let s)?: out.append(contentsOf: s.utf8)
            case .integer(let i)?: out.append(contentsOf: String(i).utf8)
            case .decimal(let d)?: out.append(contentsOf: d.utf8)
            case .boolean(let b)?: out.append(contentsOf: (b ? "true" : "false").utf8)
            case nil: break
            }
            out.append(0)
        }
        return out
    }

    /// The names of all fields except the BSN: what may ever leave the ingest stage.
    package var deliverableFieldNames: [String] { fields.map(\.name).filter { $0 != bsnField } }
}
