import Foundation
import Records
import Testing
import VangnetCore

/// The record vectors (`docs/test-vectors/records-v1.json`): records of each dataset with the
/// answer the documents promise. The Python client checks the same cases against the published
/// JSON Schemas (clients/python/tests/test_records.py), so the validator and the schemas agree.
@Suite struct RecordVectorTests {
    struct Corpus: Decodable {
        let createdAt: String
        let cases: [Case]
    }

    struct Case: Decodable {
        let name: String
        let dataset: String
        let mode: String
        let line: String
        let expect: String
        let field: String?
        let beyondSchema: String?
        let stored: String?
    }

    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs")

    static func corpus() throws -> Corpus {
        let data = try Data(contentsOf: docs.appendingPathComponent("test-vectors/records-v1.json"))
        return try JSONDecoder().decode(Corpus.self, from: data)
    }

    /// What the validator answers: `valid` or the code, the field it names, and the stored form.
    static func answer(to c: Case, createdOn: CalendarDate) -> (code: String, field: String?, stored: String?) {
        let schema = DatasetSchema.defaults[DatasetID(c.dataset)]!
        let validator = RecordValidator(schema: schema, createdOn: createdOn)
        let result: Result<ValidatedLine, RecordRejection> =
            c.mode == "full"
            ? validator.validate(line: c.line, number: 1).map(ValidatedLine.record)
            : validator.validateChange(line: c.line, number: 1)
        switch result {
        case .success(.record(let record)): return ("valid", nil, record.storedFields)
        case .success(.withdrawal): return ("valid", nil, nil)
        case .failure(let rejection): return (rejection.reason.rawValue, rejection.field, nil)
        }
    }

    @Test func theValidatorGivesEveryVectorsAnswer() throws {
        let corpus = try Self.corpus()
        let instant = try #require(ISO8601DateFormatter().date(from: corpus.createdAt))
        let createdOn = CalendarDate.inAmsterdam(secondsSince1970: instant.timeIntervalSince1970)
        #expect(corpus.cases.count >= 60)
        // Each case by its name only: a line holds a BSN, which a failure must not print.
        var wrong: [String] = []
        for c in corpus.cases {
            let answer = Self.answer(to: c, createdOn: createdOn)
            if answer.code != c.expect || answer.field != c.field || (c.stored != nil && answer.stored != c.stored) {
                wrong.append("\(c.name): \(answer.code) \(answer.field ?? "-")")
            }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    @Test func everyCodeAndDateRuleIsInTheVectors() throws {
        let corpus = try Self.corpus()
        let codes = Set(corpus.cases.map(\.expect))
        // duplicate_record and record_too_large are about the batch and the limits, not one line,
        // and institution_mismatch about its sender; the gateway tests hold them.
        let lineCodes = RecordRejection.Reason.allCases.map(\.rawValue).filter {
            $0 != "duplicate_record" && $0 != "record_too_large" && $0 != "institution_mismatch"
        }
        let missing = lineCodes.filter { !codes.contains($0) }
        #expect(missing.isEmpty, "no vector for \(missing)")
        let refusedByRule = Set(corpus.cases.filter { $0.beyondSchema == "dateRules" }.compactMap(\.field))
        let ruleFields = DatasetSchema.defaults.values.flatMap(\.dateRules).map(\.field)
        #expect(Set(ruleFields) == refusedByRule)
    }

    @Test func thePublishedSchemasAreTheValidatorsDefinition() throws {
        for schema in DatasetSchema.defaults.values {
            let file = Self.docs.appendingPathComponent("schemas/" + DatasetSchema.fileName(schema))
            let published = try String(contentsOf: file, encoding: .utf8)
            let made = schema.jsonSchema().rendered()
            #expect(published == made, "docs/schemas is stale: vangnet config schemas --out docs/schemas")
        }
        let files = try FileManager.default.contentsOfDirectory(
            atPath: Self.docs.appendingPathComponent("schemas").path
        )
        #expect(Set(files) == Set(DatasetSchema.defaults.values.map(DatasetSchema.fileName)))
    }

    @Test func aSchemaNamesEachFieldWithItsRequirementAndTheRulesBeyondJSONSchema() throws {
        for schema in DatasetSchema.defaults.values {
            let text = schema.jsonSchema().rendered()
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
            let properties = parsed["properties"] as! [String: Any]
            #expect(Set(properties.keys) == Set(schema.fields.map(\.name)))
            #expect(parsed["required"] as? [String] == schema.fields.filter(\.required).map(\.name))
            #expect(parsed["additionalProperties"] as? Bool == false)
            let rules = parsed["x-vangnet"] as! [String: Any]
            #expect(rules["keyFields"] as? [String] == schema.keyFields)
            #expect((rules["dateRules"] as? [Any])?.count == schema.dateRules.count)
        }
    }

    @Test func codePatternsAndDecimalsAreWrittenExactly() {
        #expect(DatasetSchema.pattern(ofCode: "99AA") == "^[0-9]{2}[A-Z]{2}$")
        #expect(DatasetSchema.pattern(ofCode: "99999") == "^[0-9]{5}$")
        #expect(DatasetSchema.pattern(ofCode: "A9") == "^[A-Z][0-9]$")
        #expect(RecordValidator.decimalText(units: 3250, places: 2) == "32.5")
        #expect(RecordValidator.decimalText(units: 3205, places: 2) == "32.05")
        #expect(RecordValidator.decimalText(units: 3200, places: 2) == "32")
        #expect(RecordValidator.decimalText(units: -5, places: 2) == "-0.05")
        #expect(RecordValidator.decimalText(units: 0, places: 2) == "0")
    }
}
