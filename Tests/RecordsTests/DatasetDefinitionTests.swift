import Foundation
import Records
import Testing
import VangnetCore

/// Dataset definition files (docs/configuration.md, "Datasets"): the shipped ones as config/datasets/
/// holds them, and every problem of a wrong one reported with its line.
@Suite struct DatasetDefinitionTests {
    static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../config/datasets"
    )

    @Test func theEmbeddedDefinitionsAreTheFilesOfConfigDatasets() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.config.path).filter {
            $0.hasSuffix(".json")
        }
        #expect(Set(files) == Set(DatasetSchema.shippedDefinitions.map(\.file)))
        for (file, text) in DatasetSchema.shippedDefinitions {
            let onDisk = try String(contentsOf: Self.config.appendingPathComponent(file), encoding: .utf8)
            #expect(onDisk == text + "\n", "run scripts/generate-datasets.sh: \(file) differs")
        }
        #expect(
            DatasetSchema.shipped.map(\.id.value).sorted() == [
                "duo.onderwijsdeelname", "mbo.niet-toelaatbaar", "uwv.inkomstenverhoudingen",
            ]
        )
        #expect(DatasetSchema.shipped.map(DatasetSchema.definitionFileName).sorted() == files.sorted())
    }

    /// A schema written as a definition and read back is the same schema: the same JSON Schema,
    /// the same institution field.
    @Test func aDefinitionReadBackIsTheSameSchema() throws {
        for schema in DatasetSchema.shipped {
            let text = schema.definition().rendered()
            let again = try DatasetSchema.parse(definition: Array(text.utf8), file: "again.json")
            #expect(again.jsonSchema().rendered() == schema.jsonSchema().rendered(), "\(schema.id)")
            #expect(again.institutionField == schema.institutionField)
            #expect(again.description == schema.description)
        }
        #expect(DatasetSchema.mboNietToelaatbaar.institutionField == "brin")
        #expect(DatasetSchema.duoOnderwijsdeelname.institutionField == nil)
    }

    static func problems(of text: String) -> [String] {
        do {
            _ = try DatasetSchema.parse(definition: Array(text.utf8), file: "wrong.json")
            return []
        } catch let error as DatasetDefinitionError {
            return error.lines
        } catch {
            return ["unexpected \(error)"]
        }
    }

    /// Every problem of the file is reported at once, each at its line and column.
    @Test func everyProblemIsReportedWithItsLine() {
        let text = """
            {
              "id": "Leerplicht",
              "version": 0,
              "colour": "blue",
              "fields": [
                { "name": "bsn", "type": "bsn" },
                { "name": "tweede_bsn", "type": "bsn" },
                { "name": "Datum", "type": "date" },
                { "name": "soort", "type": "enumeration", "values": [] },
                { "name": "uren", "type": "decimal", "minimum": 0, "maximum": 40, "places": 7 },
                { "name": "code", "type": "code", "format": "9X" },
                { "name": "klas", "type": "integer", "minimum": 9, "maximum": 1 },
                { "name": "soort", "type": "boolean" },
                { "name": "kleur", "type": "colour" },
                { "name": "dag", "type": "date", "required": false }
              ],
              "key": ["dag", "bsn", "onbekend"],
              "dateRules": [
                { "field": "soort", "notBefore": "dag" },
                { "field": "dag", "notAfter": "today" },
                { "field": "dag" }
              ],
              "institutionField": "soort"
            }
            """
        let lines = Self.problems(of: text)
        let expected: [(String, String)] = [
            ("wrong.json:2:9: error: id:", "is not a dataset id"),
            ("wrong.json:3:14: error: version:", "must be 1 to 9999"),
            ("wrong.json:4:13: error: colour:", "is not a member"),
            ("wrong.json:5:13: error: fields:", "has no field of type municipality"),
            ("wrong.json:7:37: error: fields[1].type:", "a second field of type bsn"),
            ("wrong.json:8:15: error: fields[2].name:", "is not a field name"),
            ("wrong.json:9:57: error: fields[3].values:", "lists no value"),
            ("wrong.json:10:81: error: fields[4].places:", "must be 0 to 6"),
            ("wrong.json:11:49: error: fields[5].format:", "is not a code format"),
            ("wrong.json:12:67: error: fields[6].maximum:", "is below the minimum"),
            ("wrong.json:13:15: error: fields[7].name:", "is the name of an earlier field"),
            ("wrong.json:14:32: error: fields[8].type:", "is not a field type"),
            ("wrong.json:17:11: error: key[0]:", "is optional; a key field is required"),
            ("wrong.json:17:18: error: key[1]:", "the BSN identifies the person already"),
            ("wrong.json:17:25: error: key[2]:", "is not a field of the dataset"),
            ("wrong.json:19:16: error: dateRules[0].field:", "is not a date field"),
            ("wrong.json:20:35: error: dateRules[1].notAfter:", "\"createdAt\""),
            ("wrong.json:21:5: error: dateRules[2]:", "one of notBefore"),
            ("wrong.json:23:23: error: institutionField:", "must be a required field of type code"),
        ]
        for (place, words) in expected {
            let found = lines.contains { $0.hasPrefix(place) && $0.contains(words) }
            #expect(found, "\(place) \(words) in \(lines)")
        }
        #expect(lines.count == expected.count, "\(lines)")
    }

    @Test func textThatIsNotADefinitionIsRefusedWhole() {
        let notJSON = Self.problems(of: "{ \"id\": ")
        #expect(notJSON.count == 1 && notJSON[0].contains("is not JSON"))
        let array = Self.problems(of: "[1, 2]")
        #expect(array.count == 1 && array[0].contains("must be an object, not an array"))
        let empty = Self.problems(of: "{}")
        for member in ["id", "version", "fields", "key"] {
            let found = empty.contains { $0.contains("error: \(member): is missing") }
            #expect(found, "\(member) in \(empty)")
        }
    }

    /// A fourth dataset from a file alone: a municipality's absence reports (leerplicht), validated
    /// by the same rules as the shipped ones.
    @Test func aNewDatasetFromAFileValidatesRecords() throws {
        let text = """
            {
              "id": "lpa.verzuim",
              "version": 1,
              "fields": [
                { "name": "bsn", "type": "bsn" },
                { "name": "gemeentecode", "type": "municipality" },
                { "name": "melddatum", "type": "date" },
                { "name": "soort", "type": "enumeration", "values": ["absoluut", "relatief", "luxe"] },
                { "name": "uren", "type": "integer", "minimum": 1, "maximum": 400, "required": false }
              ],
              "key": ["melddatum", "soort"],
              "dateRules": [{ "field": "melddatum", "notAfter": "createdAt" }]
            }
            """
        let schema = try DatasetSchema.parse(definition: Array(text.utf8), file: "lpa.verzuim.v1.json")
        #expect(schema.id == "lpa.verzuim" && schema.bsnField == "bsn" && schema.municipalityField == "gemeentecode")
        let validator = RecordValidator(schema: schema, createdOn: CalendarDate(year: 2026, month: 11, day: 23)!)
        let good = validator.validate(
            line: #"{"bsn":"123456782","gemeentecode":"GM0344","melddatum":"2026-10-01","soort":"relatief","uren":12}"#,
            number: 1
        )
        let stored = try good.get().storedFields
        #expect(stored == #"{"gemeentecode":"GM0344","melddatum":"2026-10-01","soort":"relatief","uren":12}"#)
        let future = validator.validate(
            line: #"{"bsn":"123456782","gemeentecode":"GM0344","melddatum":"2026-11-24","soort":"relatief"}"#,
            number: 2
        )
        #expect(future.failure?.reason == .dateAfterCreation)
        let unknownKind = validator.validate(
            line: #"{"bsn":"123456782","gemeentecode":"GM0344","melddatum":"2026-10-01","soort":"ziek"}"#,
            number: 3
        )
        #expect(unknownKind.failure?.field == "soort")
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
