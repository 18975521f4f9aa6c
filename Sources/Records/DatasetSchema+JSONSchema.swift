import VangnetCore

extension DatasetSchema {
    /// The dataset as a JSON Schema (draft 2020-12), made from the definition the validator uses:
    /// what one line of a batch's payload must be. A record that this schema refuses, the
    /// validator refuses too. The rules JSON Schema cannot state (the elfproef, the order of dates,
    /// escapes, a key written twice) are under `x-vangnet`, a keyword a validator ignores and a
    /// client reads; docs/envelope.md describes them. Published in docs/schemas/ and served at
    /// `GET /v1/datasets/{id}/schema`.
    package func jsonSchema(reference: ReferenceData = .embedded) -> JSONDocument {
        let municipalities = reference.municipalities.keys.sorted().map(\.value)
        func property(_ spec: FieldSpec) -> JSONDocument {
            var members = Self.members(of: spec.type, municipalities: municipalities)
            if !spec.required {
                // An optional field may be absent or null.
                members = members.map { name, value in
                    switch (name, value) {
                    case ("type", .string(let type)): (name, .array([.string(type), .string("null")]))
                    case ("enum", .array(let values)): (name, .array(values + [.null]))
                    default: (name, value)
                    }
                }
            }
            return .object([("description", .string(Self.meaning(of: spec)))] + members)
        }
        let properties = JSONDocument.object(fields.map { ($0.name, property($0)) })
        let required = fields.filter(\.required).map(\.name)
        let withdrawal = JSONDocument.object([
            (
                "description",
                .string(
                    "A line of a batch of changes that withdraws a record: the BSN, the key fields and "
                        + "\"withdrawn\": true, nothing else."
                )
            ),
            ("type", .string("object")),
            (
                "properties",
                .object(
                    fields.filter { $0.name == bsnField || keyFields.contains($0.name) }.map { ($0.name, property($0)) }
                        + [("withdrawn", .object([("const", .boolean(true))]))]
                )
            ),
            ("required", .strings([bsnField] + keyFields + ["withdrawn"])),
            ("additionalProperties", .boolean(false)),
        ])
        let rules: [JSONDocument] = dateRules.map { rule in
            switch rule {
            case .notBefore(let field, let earlier):
                .object([("field", .string(field)), ("notBefore", .string(earlier))])
            case .notAfterCreation(let field):
                .object([("field", .string(field)), ("notAfter", .string("createdAt"))])
            }
        }
        return .object([
            ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
            ("$id", .string("urn:vangnet:dataset:\(id.value):\(version)")),
            ("title", .string("\(id.value), version \(version)")),
            (
                "description",
                .string(
                    "One record of \(id.value): one line of a batch's payload (docs/envelope.md). "
                        + "x-vangnet holds the rules beyond JSON Schema; $defs.withdrawal is a withdrawal in a batch of changes."
                )
            ),
            ("type", .string("object")),
            ("properties", properties),
            ("required", .strings(required)),
            ("additionalProperties", .boolean(false)),
            ("$defs", .object([("withdrawal", withdrawal)])),
            (
                "x-vangnet",
                .object(
                    [
                        ("dataset", .string(id.value)),
                        ("version", .number(version)),
                        ("bsnField", .string(bsnField)),
                        ("municipalityField", .string(municipalityField)),
                        ("keyFields", .strings(keyFields)),
                        ("elfproef", .strings([bsnField])),
                        ("dateRules", .array(rules)),
                        ("noEscapes", .boolean(true)),
                        ("noDuplicateKeys", .boolean(true)),
                    ] + (institutionField.map { [("institutionField", JSONDocument.string($0))] } ?? [])
                )
            ),
        ])
    }

    /// The name of the file that holds the schema of `schema`: `duo.onderwijsdeelname.v1.schema.json`.
    package static func fileName(_ schema: DatasetSchema) -> String {
        "\(schema.id.value).v\(schema.version).schema.json"
    }

    /// `YYYY-MM-DD` naming a real day in the years 1900-2200, leap days included: the same days as
    /// ``CalendarDate`` admits, so that the schema holds without a `format` assertion.
    static let datePattern =
        "^(((19|2[01])[0-9]{2}|2200)-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
        + "|02-(0[1-9]|1[0-9]|2[0-8]))|((19|2[01])(0[48]|[2468][048]|[13579][26])|2000)-02-29)$"
    static let monthPattern = "^((19|2[01])[0-9]{2}|2200)-(0[1-9]|1[0-2])$"

    private static func members(of type: FieldType, municipalities: [String]) -> [(String, JSONDocument)] {
        switch type {
        case .bsn: [("type", .string("string")), ("pattern", .string("^[0-9]{9}$"))]
        case .municipality: [("type", .string("string")), ("enum", .strings(municipalities))]
        case .date: [("type", .string("string")), ("format", .string("date")), ("pattern", .string(datePattern))]
        case .month: [("type", .string("string")), ("pattern", .string(monthPattern))]
        case .enumeration(let values): [("type", .string("string")), ("enum", .strings(values))]
        case .boolean: [("type", .string("boolean"))]
        case .integer(let range):
            [
                ("type", .string("integer")), ("minimum", .number(range.lowerBound)),
                ("maximum", .number(range.upperBound)),
            ]
        case .decimal(let range, let places):
            [
                ("type", .string("number")), ("minimum", .number(range.lowerBound)),
                ("maximum", .number(range.upperBound)),
                ("multipleOf", .number(places == 0 ? "1" : "0." + String(repeating: "0", count: places - 1) + "1")),
            ]
        case .code(let format): [("type", .string("string")), ("pattern", .string(pattern(ofCode: format)))]
        }
    }

    /// `99AA` -> `^[0-9]{2}[A-Z]{2}$`.
    package static func pattern(ofCode format: String) -> String {
        var out = "^"
        var rest = Substring(format)
        while let c = rest.first {
            let run = rest.prefix { $0 == c }
            out += (c == "9" ? "[0-9]" : "[A-Z]") + (run.count > 1 ? "{\(run.count)}" : "")
            rest = rest.dropFirst(run.count)
        }
        return out + "$"
    }

    private static func meaning(of spec: FieldSpec) -> String {
        let optional = spec.required ? "" : " Optional: may be absent or null."
        let what: String =
            switch spec.type {
            case .bsn: "The BSN: nine digits passing the elfproef. Pseudonymised on arrival, never stored or passed on."
            case .municipality: "CBS code (GMdddd) of the municipality of residence; routes the record to its region."
            case .date: "A date, YYYY-MM-DD."
            case .month: "A month, YYYY-MM."
            case .enumeration: "One of the listed values, exactly as written."
            case .boolean: "true or false."
            case .integer: "A whole number in the range (10, 10.0 and 1e1 are all 10)."
            case .decimal(_, let places): "A number in the range with at most \(places) decimals."
            case .code(let format): "A code of the form \(format): 9 a digit, A a capital letter."
            }
        return what + optional
    }
}
