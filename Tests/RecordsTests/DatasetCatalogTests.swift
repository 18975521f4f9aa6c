import Records
import Testing
import VangnetCore

/// Several versions of one dataset: what they must share, and the version a stored record keeps.
@Suite struct DatasetCatalogTests {
    static let mbo = DatasetSchema.shippedDefinitions.first { $0.file.hasPrefix("mbo.") }!.text

    /// Version 2 of the shipped mbo dataset, with `change` applied to its definition text.
    static func mboV2(_ change: (String) -> String = { $0 }) throws -> DatasetSchema {
        let text = change(mbo.replacingOccurrences(of: #""version": 1"#, with: #""version": 2"#))
        return try DatasetSchema.parse(definition: Array(text.utf8), file: "mbo.niet-toelaatbaar.v2.json")
    }

    static func problems(_ schemas: [DatasetSchema]) -> [String] {
        do {
            _ = try DatasetCatalog(schemas)
            return []
        } catch {
            return error.problems
        }
    }

    @Test func versionsAreHeldOldestFirstAndTheLatestIsTheDefault() throws {
        let v2 = try Self.mboV2()
        let catalog = try DatasetCatalog([v2] + DatasetSchema.shipped)
        #expect(catalog.versions(of: "mbo.niet-toelaatbaar").map(\.version) == [1, 2])
        #expect(catalog.latest("mbo.niet-toelaatbaar")?.version == 2)
        #expect(catalog.schema("mbo.niet-toelaatbaar", version: 1)?.version == 1)
        #expect(catalog.schema("mbo.niet-toelaatbaar", version: 3) == nil)
        #expect(
            catalog.ids.map(\.value) == ["duo.onderwijsdeelname", "mbo.niet-toelaatbaar", "uwv.inkomstenverhoudingen"]
        )
        #expect(catalog.all.count == 4 && catalog.latestVersions.count == 3)
    }

    /// What makes records comparable across versions may not change; a version is defined once.
    @Test func versionsThatDisagreeAreRefusedNamingWhat() throws {
        let cases: [(change: (String) -> String, words: String)] = [
            (
                {
                    $0.replacingOccurrences(
                        of: #""key": ["brin", "crebo", "aanmelddatum"]"#,
                        with: #""key": ["brin", "aanmelddatum"]"#
                    )
                },
                "has another key ([brin, aanmelddatum], not [brin, crebo, aanmelddatum])"
            ),
            (
                { $0.replacingOccurrences(of: #",\#n  "institutionField": "brin""#, with: "") },
                "names another institution field (none, not brin)"
            ),
            (
                { $0.replacingOccurrences(of: #""name": "bsn""#, with: #""name": "burgerservicenummer""#) },
                "names another BSN field (burgerservicenummer, not bsn)"
            ),
        ]
        for (change, words) in cases {
            let found = Self.problems(DatasetSchema.shipped + [try Self.mboV2(change)])
            #expect(found.count == 1, "\(found)")
            #expect(
                found.first?.hasPrefix("mbo.niet-toelaatbaar version 2 \(words) than version 1") == true,
                "\(found)"
            )
        }
        let twice = Self.problems(DatasetSchema.shipped + [DatasetSchema.mboNietToelaatbaar])
        #expect(twice == ["mbo.niet-toelaatbaar version 1 is defined twice"])
    }

    /// A record of version 2 or later is stored with the version it follows, first; version 1
    /// records are stored as they always were.
    @Test func aStoredRecordKeepsItsVersion() throws {
        let line =
            #"{"bsn":"123456782","geboortedatum":"2008-03-01","gemeentecode":"GM0344","brin":"91MB","crebo":"25180","niveau":"2","aanmelddatum":"2026-03-01","besluitdatum":"2026-04-01","reden":"capaciteit"}"#
        let one = try RecordValidator(schema: DatasetSchema.mboNietToelaatbaar).validate(line: line, number: 1).get()
        let two = try RecordValidator(schema: try Self.mboV2()).validate(line: line, number: 1).get()
        #expect(!one.storedFields.contains("$version"))
        #expect(two.storedFields.hasPrefix(#"{"$version":2,"geboortedatum":"2008-03-01","#))
        #expect(DatasetSchema.version(of: one.fields) == 1)
        #expect(DatasetSchema.version(of: two.fields) == 2)
        #expect(one.identity == two.identity, "the same record in either version")
    }
}
