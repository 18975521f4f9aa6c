import AccessPolicy
import Foundation
import Records
import Testing
import VangnetCore

/// A policy checked against several versions of one dataset: `fields` applies to every version
/// that `fieldsByVersion` does not name, and every condition to every version.
@Suite struct DatasetVersionPolicyTests {
    static let duoV1 = DatasetSchema.shippedDefinitions.first { $0.file.hasPrefix("duo.") }!.text

    /// Version 2 of DUO's dataset from version 1's definition, with `change` applied to its text.
    static func duoV2(_ change: (String) -> String = { $0 }) throws -> DatasetSchema {
        let text = change(duoV1.replacingOccurrences(of: #""version": 1"#, with: #""version": 2"#))
        return try DatasetSchema.parse(definition: Array(text.utf8), file: "duo.onderwijsdeelname.v2.json")
    }

    /// Version 2 drops `leerweg` (no default purpose reads it) and adds `leerjaar`.
    static let addsLeerjaar: @Sendable (String) -> String = {
        $0.replacingOccurrences(
            of: #"{ "name": "leerweg", "type": "enumeration", "values": ["BOL", "BBL"], "required": false },"#,
            with: #"{ "name": "leerjaar", "type": "integer", "minimum": 1, "maximum": 8, "required": false },"#
        )
    }

    /// Version 2 without `niveau`, which two default purposes deliver and one's population reads.
    static let dropsNiveau: @Sendable (String) -> String = {
        $0.replacingOccurrences(
            of:
                #"{ "name": "niveau", "type": "enumeration", "values": ["entree", "1", "2", "3", "4"], "required": false },"#,
            with: ""
        )
    }

    static func catalog(_ v2: DatasetSchema) throws -> DatasetCatalog {
        try DatasetCatalog(DatasetSchema.shipped + [v2])
    }

    func problems(
        _ v2: DatasetSchema,
        _ change: (inout PolicyDocument) -> Void = { _ in }
    ) throws -> (errors: [PolicyProblem], warnings: [PolicyProblem]) {
        var document = Fixture.document
        change(&document)
        do {
            let policy = try Policy(document: document, datasets: try Self.catalog(v2))
            return ([], policy.warnings)
        } catch let error as PolicyError {
            return (error.errors, error.problems.filter { $0.severity == .warning })
        }
    }

    @Test func fieldsThatEveryVersionHasCoverEveryVersion() throws {
        let v2 = try Self.duoV2(Self.addsLeerjaar)
        let found = try problems(v2)
        #expect(found.errors.isEmpty, "\(found.errors)")
        let policy = try Policy(document: Fixture.document, datasets: try Self.catalog(v2))
        let views = policy.explain(consumer: Fixture.utrecht, purpose: "vsv-opvolging").datasets
            .filter { $0.dataset == "duo.onderwijsdeelname" }
        #expect(views.map(\.version) == [1, 2])
        let delivered = ["gemeentecode", "brin", "onderwijssoort", "niveau", "uitschrijvingsdatum"]
        #expect(views.map(\.delivered) == [delivered, delivered])
        #expect(views[1].withheld.map(\.field).contains("leerjaar"), "a new field is withheld until a purpose names it")
    }

    @Test func aFieldAVersionLacksIsAnErrorUntilTheVersionsFieldsAreNamed() throws {
        let v2 = try Self.duoV2(Self.dropsNiveau)
        let found = try problems(v2).errors.map { "\($0.path): \($0.message)" }
        let fieldErrors = found.filter { $0.contains("has no field niveau") }
        #expect(fieldErrors.count == 3, "\(found)")  // the three DUO purposes deliver it
        #expect(fieldErrors.allSatisfy { $0.contains("name the fields of version 2 under fieldsByVersion") })
        #expect(found.contains { $0.contains("unknown field niveau in version 2 of duo.onderwijsdeelname") })

        // Naming version 2's fields mends vsv-opvolging; kwetsbare-jongeren's population still reads niveau.
        let mended = try problems(v2) { document in
            for k in document.purposes.indices where document.purposes[k].fields["duo.onderwijsdeelname"] != nil {
                let fields = document.purposes[k].fields["duo.onderwijsdeelname"]!.filter { $0 != "niveau" }
                document.purposes[k].fieldsByVersion = ["duo.onderwijsdeelname": ["2": fields]]
            }
        }
        let left = mended.errors.map { "\($0.path): \($0.message)" }
        #expect(left.count == 1, "\(left)")
        #expect(left.first?.hasPrefix("purposes[1].population[0].anyOf[1].field: unknown field niveau") == true)
    }

    @Test func fieldsByVersionIsChecked() throws {
        let v2 = try Self.duoV2(Self.addsLeerjaar)
        let cases: [(change: (inout PolicyDocument) -> Void, path: String, words: String)] = [
            (
                { $0.purposes[0].fieldsByVersion = ["duo.onderwijsdeelname": ["2": ["gemeentecode", "leerweg"]]] },
                #"purposes[0].fieldsByVersion["duo.onderwijsdeelname"]["2"][1]"#,
                "unknown field leerweg in version 2 of duo.onderwijsdeelname"
            ),
            (
                { $0.purposes[0].fieldsByVersion = ["duo.onderwijsdeelname": ["2": ["gemeentecode", "bsn"]]] },
                #"purposes[0].fieldsByVersion["duo.onderwijsdeelname"]["2"][1]"#,
                "the BSN is never delivered"
            ),
            (
                { $0.purposes[0].fieldsByVersion = ["duo.onderwijsdeelname": ["two": ["gemeentecode"]]] },
                #"purposes[0].fieldsByVersion["duo.onderwijsdeelname"].two"#,
                "two is not a version number"
            ),
            (
                { $0.purposes[0].fieldsByVersion = ["uwv.inkomstenverhoudingen": ["1": ["gemeentecode"]]] },
                #"purposes[0].fieldsByVersion["uwv.inkomstenverhoudingen"]"#,
                "is not under fields"
            ),
            (
                { $0.purposes[0].fieldsByVersion = ["duo.onderwijsdeelname": ["2": []]] },
                #"purposes[0].fieldsByVersion["duo.onderwijsdeelname"]["2"]"#,
                "lists no fields"
            ),
        ]
        for (change, path, words) in cases {
            let found = try problems(v2, change).errors
            #expect(found.map(\.path.description) == [path], "\(found)")
            #expect(found.first?.message.contains(words) == true, "\(found)")
        }
        // A version no longer held: its stored records still get these fields; nothing checks the names.
        let retired = try problems(v2) {
            $0.purposes[0].fieldsByVersion = ["duo.onderwijsdeelname": ["7": ["gemeentecode"]]]
        }
        #expect(retired.errors.isEmpty, "\(retired.errors)")
        #expect(retired.warnings.contains { $0.message.contains("holds no version 7 of duo.onderwijsdeelname") })
    }

    /// The fields a purpose delivers of a record follow the version the record came with.
    @Test func aRecordIsProjectedOnItsVersionsFields() throws {
        var purpose = PolicyDocument.Purpose.vsvOpvolging
        purpose.fieldsByVersion = ["duo.onderwijsdeelname": ["2": ["gemeentecode", "leerjaar"]]]
        let v1: [String: FieldValue] = ["gemeentecode": .text("GM0344"), "niveau": .text("2"), "leerjaar": .integer(3)]
        var v2 = v1
        v2[DatasetSchema.versionMember] = .integer(2)
        #expect(purpose.fields(of: "duo.onderwijsdeelname", version: DatasetSchema.version(of: v1))?.count == 5)
        #expect(
            purpose.fields(of: "duo.onderwijsdeelname", version: DatasetSchema.version(of: v2)) == [
                "gemeentecode", "leerjaar",
            ]
        )
        #expect(purpose.fields(of: "uwv.inkomstenverhoudingen", version: 2) == nil)
        #expect(
            purpose.allFields(of: "duo.onderwijsdeelname")
                == ["gemeentecode", "brin", "onderwijssoort", "niveau", "uitschrijvingsdatum", "leerjaar"]
        )
    }

    /// A policy without `fieldsByVersion` is written without it, so its fingerprint did not change.
    @Test func anEmptyFieldsByVersionIsNotWritten() throws {
        let plain = String(decoding: try JSONEncoder().encode(PolicyDocument.Purpose.vsvOpvolging), as: UTF8.self)
        #expect(!plain.contains("fieldsByVersion"))
        var purpose = PolicyDocument.Purpose.vsvOpvolging
        purpose.fieldsByVersion = ["duo.onderwijsdeelname": ["2": ["gemeentecode"]]]
        let decoded = try JSONDecoder().decode(PolicyDocument.Purpose.self, from: try JSONEncoder().encode(purpose))
        #expect(decoded == purpose)
    }
}
