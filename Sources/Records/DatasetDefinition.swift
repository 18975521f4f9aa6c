import Foundation
import VangnetCore

/// What is wrong with a dataset definition file, at which place in it.
package struct DatasetProblem: Sendable, Equatable, CustomStringConvertible {
    package let path: JSONPath
    package let message: String

    package init(_ path: JSONPath, _ message: String) {
        self.path = path
        self.message = message
    }

    package var description: String { "\(path): \(message)" }
}

/// A dataset definition file that cannot be used: every problem found, each placed as
/// `file:line:column: path: message`.
package struct DatasetDefinitionError: Error, Sendable, CustomStringConvertible {
    package let file: String
    package let problems: [DatasetProblem]
    /// One line per problem, with its line and column in the file.
    package let lines: [String]

    package var description: String { lines.joined(separator: "\n") }
}

/// A dataset definition: the file a dataset is configured by (docs/configuration.md, "Datasets"),
/// from which the validator and the published JSON Schema are both made.
///
/// ```json
/// { "id": "mbo.niet-toelaatbaar", "version": 1,
///   "fields": [ { "name": "bsn", "type": "bsn" }, { "name": "gemeentecode", "type": "municipality" }, … ],
///   "key": ["brin", "aanmelddatum"],
///   "dateRules": [ { "field": "besluitdatum", "notBefore": "aanmelddatum" } ],
///   "institutionField": "brin" }
/// ```
extension DatasetSchema {
    /// Reads a definition file.
    /// - Throws: ``DatasetDefinitionError`` with every problem of the file.
    package static func load(definitionAt url: URL) throws -> DatasetSchema {
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: url)) } catch {
            throw DatasetDefinitionError(
                file: url.path,
                problems: [DatasetProblem(JSONPath([]), "cannot read the file")],
                lines: ["\(url.path): cannot read the file: \(error.localizedDescription)"]
            )
        }
        return try parse(definition: bytes, file: url.path)
    }

    /// A definition from its JSON text.
    /// - Throws: ``DatasetDefinitionError`` with every problem of the text, placed in `file`.
    package static func parse(definition bytes: [UInt8], file: String) throws -> DatasetSchema {
        var reader = DefinitionReader()
        let schema = reader.read(bytes)
        guard let schema, reader.problems.isEmpty else {
            let lines = reader.problems.map { problem in
                let at = problem.path.location(in: bytes).map { ":\($0.line):\($0.column)" } ?? ""
                let place = problem.path.components.isEmpty ? "" : "\(problem.path): "
                return "\(file)\(at): error: \(place)\(problem.message)"
            }
            throw DatasetDefinitionError(file: file, problems: reader.problems, lines: lines)
        }
        return schema
    }

    /// The definition of this dataset, as a file holds it: ``parse(definition:file:)`` of its
    /// rendering gives the same schema.
    package func definition() -> JSONDocument {
        func field(_ spec: FieldSpec) -> JSONDocument {
            var members: [(String, JSONDocument)] = [("name", .string(spec.name))]
            switch spec.type {
            case .bsn: members.append(("type", .string("bsn")))
            case .municipality: members.append(("type", .string("municipality")))
            case .date: members.append(("type", .string("date")))
            case .month: members.append(("type", .string("month")))
            case .boolean: members.append(("type", .string("boolean")))
            case .enumeration(let values): members += [("type", .string("enumeration")), ("values", .strings(values))]
            case .integer(let range):
                members += [
                    ("type", .string("integer")), ("minimum", .number(range.lowerBound)),
                    ("maximum", .number(range.upperBound)),
                ]
            case .decimal(let range, let places):
                members += [
                    ("type", .string("decimal")), ("minimum", .number(range.lowerBound)),
                    ("maximum", .number(range.upperBound)), ("places", .number(places)),
                ]
            case .code(let format): members += [("type", .string("code")), ("format", .string(format))]
            }
            if !spec.required { members.append(("required", .boolean(false))) }
            return .object(members)
        }
        var members: [(String, JSONDocument)] = [
            ("id", .string(id.value)),
            ("version", .number(version)),
        ]
        if let description { members.append(("description", .string(description))) }
        members += [
            ("fields", .array(fields.map(field))),
            ("key", .strings(keyFields)),
            (
                "dateRules",
                .array(
                    dateRules.map { rule in
                        switch rule {
                        case .notBefore(let field, let earlier):
                            .object([("field", .string(field)), ("notBefore", .string(earlier))])
                        case .notAfterCreation(let field):
                            .object([("field", .string(field)), ("notAfter", .string("createdAt"))])
                        }
                    }
                )
            ),
        ]
        if let institutionField { members.append(("institutionField", .string(institutionField))) }
        return .object(members)
    }

    /// The name of a dataset's definition file: `duo.onderwijsdeelname.v1.json`.
    package static func definitionFileName(_ schema: DatasetSchema) -> String {
        "\(schema.id.value).v\(schema.version).json"
    }

    /// A dataset id: lower-case words joined by `.` or `-`, the first naming the source
    /// (`duo.onderwijsdeelname`, `mbo.niet-toelaatbaar`).
    package static func isValidID(_ id: String) -> Bool {
        let parts = id.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 2 && id.utf8.count <= 64
            && parts.allSatisfy { part in
                let words = part.split(separator: "-", omittingEmptySubsequences: false)
                return words.allSatisfy { word in
                    !word.isEmpty && word.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
                        && (0x61...0x7A).contains(word.utf8.first!)
                }
            }
    }

    /// A field name: a lower-case letter, then lower-case letters, digits or `_`, at most 64 bytes.
    /// Written in a record without escapes, so the validator compares it byte for byte.
    package static func isValidFieldName(_ name: String) -> Bool {
        guard let first = name.utf8.first, (0x61...0x7A).contains(first), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }
}

/// A JSON value as a definition file holds it, read without loss of what a problem must name.
private indirect enum DefinitionValue: Decodable {
    case object([String: DefinitionValue])
    case array([DefinitionValue])
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case null

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .boolean(b)
        } else if let i = try? c.decode(Int.self) {
            self = .integer(i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([DefinitionValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: DefinitionValue].self))
        }
    }

    var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .integer, .number: "a number"
        case .boolean: "a boolean"
        case .null: "null"
        }
    }
}

/// Walks a definition, collecting every problem rather than stopping at the first.
private struct DefinitionReader {
    var problems: [DatasetProblem] = []

    mutating func problem(_ path: JSONPath, _ message: String) { problems.append(DatasetProblem(path, message)) }

    static let memberNames: Set<String> = [
        "id", "version", "description", "fields", "key", "dateRules", "institutionField",
    ]
    static let fieldMembers: [String: Set<String>] = [
        "bsn": [], "municipality": [], "date": [], "month": [], "boolean": [],
        "enumeration": ["values"], "integer": ["minimum", "maximum"],
        "decimal": ["minimum", "maximum", "places"], "code": ["format"],
    ]

    func members(
        _ value: DefinitionValue,
        at path: JSONPath,
        problems: inout [DatasetProblem]
    ) -> [String: DefinitionValue]? {
        guard case .object(let members) = value else {
            problems.append(DatasetProblem(path, "must be an object, not \(value.kind)"))
            return nil
        }
        return members
    }

    mutating func string(_ value: DefinitionValue?, at path: JSONPath, required: Bool = true) -> String? {
        switch value {
        case .string(let s)?: return s
        case nil where !required: return nil
        case nil: problem(path, "is missing")
        case let other?: problem(path, "must be a string, not \(other.kind)")
        }
        return nil
    }

    mutating func integer(_ value: DefinitionValue?, at path: JSONPath) -> Int? {
        switch value {
        case .integer(let i)?: return i
        case nil: problem(path, "is missing")
        case let other?: problem(path, "must be a whole number, not \(other.kind)")
        }
        return nil
    }

    mutating func strings(_ value: DefinitionValue?, at path: JSONPath) -> [String]? {
        guard let value else {
            problem(path, "is missing")
            return nil
        }
        guard case .array(let items) = value else {
            problem(path, "must be an array of strings, not \(value.kind)")
            return nil
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            if let s = string(item, at: path / i) { out.append(s) }
        }
        return out.count == items.count ? out : nil
    }

    mutating func unknownMembers(_ members: [String: DefinitionValue], allowed: Set<String>, at path: JSONPath) {
        for name in members.keys.sorted() where !allowed.contains(name) {
            problem(path / name, "is not a member a dataset definition has here")
        }
    }

    mutating func read(_ bytes: [UInt8]) -> DatasetSchema? {
        let root: DefinitionValue
        do { root = try JSONDecoder().decode(DefinitionValue.self, from: Data(bytes)) } catch {
            problem(JSONPath([]), "is not JSON")
            return nil
        }
        let top = JSONPath([])
        guard case .object(let document) = root else {
            problem(top, "must be an object, not \(root.kind)")
            return nil
        }
        unknownMembers(document, allowed: Self.memberNames, at: top)
        let id = string(document["id"], at: top / "id")
        if let id, !DatasetSchema.isValidID(id) {
            problem(
                top / "id",
                "\"\(id)\" is not a dataset id: lower-case words joined by . or -, the first naming the source (duo.onderwijsdeelname)"
            )
        }
        let version = integer(document["version"], at: top / "version")
        if let version, !(1...9999).contains(version) { problem(top / "version", "must be 1 to 9999") }
        let description = string(document["description"], at: top / "description", required: false)
        let (fields, named) = readFields(document["fields"], at: top / "fields")
        // A name whose field has problems of its own is not reported again where it is used.
        func spec(_ name: String) -> FieldSpec? { fields?.last { $0.spec.name == name }?.spec }
        func unknown(_ name: String) -> Bool { spec(name) == nil && !named.contains(name) }

        let key = strings(document["key"], at: top / "key") ?? []
        if fields != nil {
            for (i, name) in key.enumerated() {
                guard let field = spec(name) else {
                    if unknown(name) { problem(top / "key" / i, "\"\(name)\" is not a field of the dataset") }
                    continue
                }
                if field.type == .bsn {
                    problem(top / "key" / i, "the BSN identifies the person already; a key field is another field")
                } else if !field.required {
                    problem(top / "key" / i, "\"\(name)\" is optional; a key field is required")
                }
            }
            if Set(key).count != key.count { problem(top / "key", "names a field twice") }
        }

        var rules: [DateRule] = []
        if let value = document["dateRules"] {
            if case .array(let items) = value {
                for (i, item) in items.enumerated() {
                    if let rule = readRule(item, at: top / "dateRules" / i, spec: spec, unknown: unknown) {
                        rules.append(rule)
                    }
                }
            } else {
                problem(top / "dateRules", "must be an array, not \(value.kind)")
            }
        }

        let institution = string(document["institutionField"], at: top / "institutionField", required: false)
        if let institution, fields != nil {
            if let field = spec(institution) {
                if case .code = field.type, field.required {
                } else {
                    problem(
                        top / "institutionField",
                        "\"\(institution)\" must be a required field of type code (the institution's BRIN)"
                    )
                }
            } else if unknown(institution) {
                problem(top / "institutionField", "\"\(institution)\" is not a field of the dataset")
            }
        }

        guard problems.isEmpty, let id, let version, let fields else { return nil }
        return DatasetSchema(
            id: DatasetID(id),
            version: version,
            fields: fields.map(\.spec),
            key: key,
            dateRules: rules,
            institutionField: institution,
            description: description
        )
    }

    /// The fields that read without a problem (nil if there is no array of fields), and the name of
    /// every field, read or not.
    mutating func readFields(
        _ value: DefinitionValue?,
        at path: JSONPath
    ) -> (specs: [(spec: FieldSpec, path: JSONPath)]?, named: Set<String>) {
        guard let value else {
            problem(path, "is missing")
            return (nil, [])
        }
        guard case .array(let items) = value else {
            problem(path, "must be an array of fields, not \(value.kind)")
            return (nil, [])
        }
        var specs: [(spec: FieldSpec, path: JSONPath)] = []
        var named: Set<String> = []
        for (i, item) in items.enumerated() {
            if case .object(let members) = item, case .string(let name)? = members["name"] { named.insert(name) }
            if let spec = readField(item, at: path / i) { specs.append((spec, path / i)) }
        }
        if items.count > 64 { problem(path, "has \(items.count) fields; a dataset has at most 64") }
        var seen: Set<String> = []
        for (spec, place) in specs where !seen.insert(spec.name).inserted {
            problem(place / "name", "\"\(spec.name)\" is the name of an earlier field")
        }
        for type in [FieldType.bsn, .municipality] {
            let holders = specs.filter { $0.spec.type == type }
            let what = type == .bsn ? "the BSN" : "the municipality of residence (it routes a record to its region)"
            if holders.isEmpty {
                problem(path, "has no field of type \(type == .bsn ? "bsn" : "municipality"): one field holds \(what)")
            }
            for extra in holders.dropFirst() {
                problem(
                    extra.path / "type",
                    "a second field of type \(type == .bsn ? "bsn" : "municipality"): one field holds \(what)"
                )
            }
            for holder in holders where !holder.spec.required {
                problem(
                    holder.path / "required",
                    "the field of type \(type == .bsn ? "bsn" : "municipality") is required"
                )
            }
        }
        return (specs, named)
    }

    mutating func readField(_ value: DefinitionValue, at path: JSONPath) -> FieldSpec? {
        guard let members = members(value, at: path, problems: &problems) else { return nil }
        let name = string(members["name"], at: path / "name")
        if let name, !DatasetSchema.isValidFieldName(name) {
            problem(
                path / "name",
                "\"\(name)\" is not a field name: a lower-case letter, then lower-case letters, digits or _"
            )
        }
        var required = true
        if let value = members["required"] {
            if case .boolean(let b) = value {
                required = b
            } else {
                problem(path / "required", "must be true or false, not \(value.kind)")
            }
        }
        guard let typeName = string(members["type"], at: path / "type") else { return nil }
        guard let extra = Self.fieldMembers[typeName] else {
            problem(
                path / "type",
                "\"\(typeName)\" is not a field type (bsn, municipality, date, month, boolean, enumeration, integer, decimal, code)"
            )
            return nil
        }
        unknownMembers(members, allowed: extra.union(["name", "type", "required"]), at: path)
        let type: FieldType?
        switch typeName {
        case "bsn": type = .bsn
        case "municipality": type = .municipality
        case "date": type = .date
        case "month": type = .month
        case "boolean": type = .boolean
        case "enumeration":
            if let values = strings(members["values"], at: path / "values") {
                if values.isEmpty { problem(path / "values", "lists no value") }
                if Set(values).count != values.count { problem(path / "values", "lists a value twice") }
                if values.contains(where: { $0.isEmpty || $0.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C } })
                {
                    problem(path / "values", "a value is empty or holds a quote, backslash or control character")
                }
                type = .enumeration(values)
            } else {
                type = nil
            }
        case "integer", "decimal":
            let minimum = integer(members["minimum"], at: path / "minimum")
            let maximum = integer(members["maximum"], at: path / "maximum")
            var places = 0
            if typeName == "decimal", let p = integer(members["places"], at: path / "places") {
                if (0...6).contains(p) { places = p } else { problem(path / "places", "must be 0 to 6") }
            }
            if let minimum, let maximum {
                if minimum > maximum {
                    problem(path / "maximum", "is below the minimum")
                    type = nil
                } else if abs(minimum) > 1_000_000_000 || abs(maximum) > 1_000_000_000 {
                    problem(path, "the range lies within -1000000000 and 1000000000")
                    type = nil
                } else {
                    type =
                        typeName == "integer"
                        ? .integer(minimum...maximum) : .decimal(minimum...maximum, places: places)
                }
            } else {
                type = nil
            }
        default:  // code
            if let format = string(members["format"], at: path / "format") {
                if format.isEmpty || format.utf8.count > 32 || !format.allSatisfy({ $0 == "9" || $0 == "A" }) {
                    problem(
                        path / "format",
                        "\"\(format)\" is not a code format: 9 for a digit, A for a capital letter"
                    )
                    type = nil
                } else {
                    type = .code(format)
                }
            } else {
                type = nil
            }
        }
        guard let name, let type, DatasetSchema.isValidFieldName(name) else { return nil }
        return FieldSpec(name, type, required: required)
    }

    mutating func readRule(
        _ value: DefinitionValue,
        at path: JSONPath,
        spec: (String) -> FieldSpec?,
        unknown: (String) -> Bool
    ) -> DateRule? {
        guard let members = members(value, at: path, problems: &problems) else { return nil }
        unknownMembers(members, allowed: ["field", "notBefore", "notAfter"], at: path)
        guard let field = string(members["field"], at: path / "field") else { return nil }
        func isDate(_ name: String, at place: JSONPath) -> Bool {
            guard let found = spec(name) else {
                if unknown(name) { problem(place, "\"\(name)\" is not a field of the dataset") }
                return false
            }
            guard found.type == .date else {
                problem(place, "\"\(name)\" is not a date field")
                return false
            }
            return true
        }
        switch (members["notBefore"], members["notAfter"]) {
        case (let earlier?, nil):
            guard let earlier = string(earlier, at: path / "notBefore") else { return nil }
            let ok = isDate(field, at: path / "field") && isDate(earlier, at: path / "notBefore")
            return ok ? .notBefore(field, earlier: earlier) : nil
        case (nil, let later?):
            guard let later = string(later, at: path / "notAfter") else { return nil }
            guard later == "createdAt" else {
                problem(
                    path / "notAfter",
                    "a date is checked not to be after \"createdAt\", the day the batch was made"
                )
                return nil
            }
            return isDate(field, at: path / "field") ? .notAfterCreation(field) : nil
        default:
            problem(path, "a date rule has one of notBefore (a date field) or notAfter (\"createdAt\")")
            return nil
        }
    }
}
