import AccessPolicy
import Foundation
import Records
import Testing
import VangnetCore
import VangnetCrypto

/// A valid policy like the development one: 40 regions, two contactgemeenten, two sources, an
/// auditor, the three default purposes.
enum Fixture {
    static let duo = OIN("00000099000000000101")!, uwv = OIN("00000099000000000102")!
    static let utrecht = OIN("00000099000000000219")!, amsterdam = OIN("00000099000000000221")!
    static let auditor = OIN("00000099000000000901")!
    static let key = Data(SigningKeyPair.generate().publicKey.bytes).base64EncodedString()

    static var document: PolicyDocument {
        var regions = PolicyDocument.Region.fromReference()
        regions[18].contactgemeente = .init(name: "Gemeente Utrecht (test)", oin: utrecht)
        regions[20].contactgemeente = .init(name: "Gemeente Amsterdam (test)", oin: amsterdam)
        return PolicyDocument(
            regions: regions,
            organisations: [
                .init(oin: duo, name: "DUO", role: .source, datasets: ["duo.onderwijsdeelname"], signingKeys: [key]),
                .init(
                    oin: uwv,
                    name: "UWV",
                    role: .source,
                    datasets: ["uwv.inkomstenverhoudingen"],
                    signingKeys: [key]
                ),
                .init(oin: utrecht, name: "Gemeente Utrecht", role: .consumer),
                .init(oin: amsterdam, name: "Gemeente Amsterdam", role: .consumer),
                .init(oin: auditor, name: "Security officer", role: .auditor),
            ],
            purposes: PolicyDocument.Purpose.defaults,
            grants: [
                .init(consumer: utrecht, purposes: ["vsv-opvolging", "kwetsbare-jongeren", "vsv-een-jaar-later"]),
                .init(consumer: amsterdam, purposes: ["vsv-opvolging"]),
            ]
        )
    }
}

@Suite struct PolicyCheckTests {
    /// The problems a changed fixture has (errors first).
    func problems(_ change: (inout PolicyDocument) -> Void) -> [PolicyProblem] {
        var document = Fixture.document
        change(&document)
        do {
            _ = try Policy(document: document)
            return []
        } catch let error as PolicyError {
            return error.errors
        } catch {
            Issue.record("unexpected error type \(type(of: error))")
            return []
        }
    }

    /// Expects exactly one error, at `path`, whose message contains `words`.
    func expectOne(
        _ change: (inout PolicyDocument) -> Void,
        at path: String,
        saying words: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let found = problems(change)
        #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
        #expect(found.first?.path.description == path, "\(found)", sourceLocation: sourceLocation)
        #expect(found.first?.message.contains(words) == true, "\(found)", sourceLocation: sourceLocation)
    }

    @Test func theFixtureIsValidAndRoutesEveryMunicipality() throws {
        let policy = try Policy(document: Fixture.document)
        for (code, _) in ReferenceData.embedded.municipalities {
            #expect(policy.region(of: code) == ReferenceData.embedded.region(of: code))
        }
        do {
            let holds = policy.warnings.contains { $0.message.contains("38 region(s) name no contactgemeente") }
            #expect(holds)
        }
        guard case .permit(.consumer(let utrecht)) = policy.identify(Fixture.utrecht) else {
            Issue.record("Utrecht unknown")
            return
        }
        #expect(utrecht.region == RegionNumber(19), "a consumer's region follows from the contactgemeente it is")
    }

    @Test func aMunicipalityInTwoRegionsIsAnError() {
        expectOne(
            { $0.regions[39].municipalities.append(MunicipalityCode("GM0344")!) },
            at: "regions[39].municipalities[7]",
            saying: "exactly one region"
        )
    }

    @Test func aMunicipalityInNoRegionIsAnError() {
        expectOne(
            { $0.regions[18].municipalities.removeAll { $0.value == "GM0344" } },
            at: "regions",
            saying: "GM0344 (Utrecht)"
        )
    }

    @Test func anUnknownMunicipalityIsAnError() {
        expectOne(
            { $0.regions[3].municipalities.append(MunicipalityCode("GM9999")!) },
            at: "regions[3].municipalities[9]",
            saying: "not a municipality in the CBS list"
        )
    }

    @Test func anUnknownOrMissingRegionIsAnError() {
        let missing = problems { $0.regions.removeLast() }
        #expect(missing.map(\.message).contains("region 40 (Rijk van Nijmegen) is missing"))
        do {
            let holds = missing.contains { $0.message.contains("7 municipalities are in no region") }
            #expect(holds)
        }
        let twice = problems {
            $0.regions.append(PolicyDocument.Region(number: RegionNumber(3)!, name: "again", municipalities: []))
        }
        #expect(twice.map(\.path.description) == ["regions[40].number", "regions[40].municipalities"])
        #expect(twice.first?.message.contains("listed twice") == true)
        #expect(throws: DecodingError.self, "a region number outside 1-40 does not even decode") {
            try JSONDecoder().decode(
                PolicyDocument.Region.self,
                from: Data(#"{"number":41,"name":"x","municipalities":[]}"#.utf8)
            )
        }
    }

    @Test func unknownFieldsDatasetsAndTheBSNAreErrors() {
        expectOne(
            { $0.purposes[0].fields["duo.onderwijsdeelname"]!.append("adres") },
            at: #"purposes[0].fields["duo.onderwijsdeelname"][5]"#,
            saying: "unknown field adres"
        )
        expectOne(
            { $0.purposes[0].fields["duo.onderwijsdeelname"]!.append("bsn") },
            at: #"purposes[0].fields["duo.onderwijsdeelname"][5]"#,
            saying: "the BSN is never delivered"
        )
        expectOne(
            { $0.purposes[1].fields["cbs.huishoudens"] = ["x"] },
            at: #"purposes[1].fields["cbs.huishoudens"]"#,
            saying: "unknown dataset"
        )
        expectOne(
            { $0.purposes[2].populationDataset = "duo.examens" },
            at: "purposes[2].populationDataset",
            saying: "unknown dataset duo.examens"
        )
    }

    @Test func conditionsMustFitTheirFields() {
        expectOne(
            { $0.purposes[0].population.append(.oneOf(field: "onderwijssoort", values: ["havo"])) },
            at: "purposes[0].population[3].oneOf[0]",
            saying: "\"havo\" is not a value of onderwijssoort"
        )
        expectOne(
            { $0.purposes[0].population.append(.age(field: "onderwijssoort", atLeast: 12, atMost: nil)) },
            at: "purposes[0].population[3].field",
            saying: "an age is taken from a date field"
        )
        expectOne(
            { $0.purposes[0].population.append(.age(field: "geboortedatum", atLeast: 27, atMost: 12)) },
            at: "purposes[0].population[3]",
            saying: "no record can meet it"
        )
        expectOne(
            { $0.purposes[0].population.append(.equals(field: "bsn", value: .text("x"))) },
            at: "purposes[0].population[3].field",
            saying: "no condition may read the BSN"
        )
        expectOne(
            { $0.purposes[0].population.append(.equals(field: "vsv", value: .text("ja"))) },
            at: "purposes[0].population[3].equals",
            saying: "does not fit vsv"
        )
        expectOne(
            {
                $0.purposes[2].conditions["uwv.inkomstenverhoudingen"] = [
                    .monthsAgo(field: "soort", atLeast: 0, atMost: 1)
                ]
            },
            at: #"purposes[2].conditions["uwv.inkomstenverhoudingen"][0].field"#,
            saying: "months are counted from a date or month field"
        )
        expectOne(
            { $0.purposes[0].conditions["uwv.inkomstenverhoudingen"] = [.equals(field: "soort", value: .text("WW"))] },
            at: #"purposes[0].conditions["uwv.inkomstenverhoudingen"]"#,
            saying: "which the purpose does not deliver"
        )
        expectOne({ $0.purposes[0].population = [] }, at: "purposes[0].population", saying: "at least one condition")
    }

    @Test func grantsMustNameKnownConsumersAndPurposes() {
        expectOne(
            { $0.grants[1].purposes.append("alles") },
            at: "grants[1].purposes[1]",
            saying: "unknown purpose alles"
        )
        expectOne({ $0.grants[1].purposes = [] }, at: "grants[1].purposes", saying: "names no purpose")
        expectOne(
            { $0.grants.append(.init(consumer: OIN("00000099000000000777")!, purposes: ["vsv-opvolging"])) },
            at: "grants[2].consumer",
            saying: "unknown OIN"
        )
        expectOne(
            { $0.grants.append(.init(consumer: Fixture.duo, purposes: ["vsv-opvolging"])) },
            at: "grants[2].consumer",
            saying: "only consumers receive grants"
        )
    }

    @Test func consumersAndContactgemeentenMustAgree() {
        expectOne(
            { $0.organisations.append(.init(oin: OIN("00000099000000000203")!, name: "Groningen", role: .consumer)) },
            at: "organisations[5]",
            saying: "the contactgemeente of no region"
        )
        expectOne(
            { $0.organisations[2].region = RegionNumber(21) },
            at: "organisations[2].region",
            saying: "contactgemeente of region 19"
        )
        expectOne(
            { $0.regions[0].contactgemeente = .init(name: "Gemeente Stadskanaal", oin: OIN("00000099000000000201")!) },
            at: "regions[0].contactgemeente.oin",
            saying: "unknown OIN"
        )
        expectOne(
            { $0.regions[0].contactgemeente = .init(name: "Gemeente Utrecht", oin: Fixture.utrecht) },
            at: "regions[18].contactgemeente.oin",
            saying: "already the contactgemeente of region 1"
        )
    }

    @Test func sourcesNeedDatasetsAndKeys() {
        expectOne(
            { $0.organisations[0].signingKeys = ["bm90IGEga2V5"] },
            at: "organisations[0].signingKeys[0]",
            saying: "not a base64 Ed25519 public key"
        )
        expectOne(
            { $0.organisations[0].datasets = ["duo.examens"] },
            at: "organisations[0].datasets[0]",
            saying: "unknown dataset duo.examens"
        )
    }

    /// An mbo institution (a source of a dataset that names its institution) is bound to its BRIN
    /// numbers: it needs them, they have the BRIN form, and a BRIN belongs to one institution.
    @Test func institutionsAreBoundToTheirOwnBRINNumbers() throws {
        let institution = OIN("00000099000000000401")!
        let other = OIN("00000099000000000402")!
        func add(_ document: inout PolicyDocument, _ oin: OIN, brin: [String]?) {
            document.organisations.append(
                .init(
                    oin: oin,
                    name: "mbo",
                    role: .source,
                    datasets: ["mbo.niet-toelaatbaar"],
                    signingKeys: [Fixture.key],
                    brin: brin
                )
            )
        }
        var valid = Fixture.document
        add(&valid, institution, brin: ["91MB"])
        add(&valid, other, brin: ["92MB", "93MB"])
        let policy = try Policy(document: valid)
        let caller = policy.identify(other)
        let institutions: [String]? = if case .permit(.source(let source)) = caller { source.institutions } else { nil }
        #expect(institutions == ["92MB", "93MB"])

        expectOne(
            { add(&$0, institution, brin: nil) },
            at: "organisations[5]",
            saying: "mbo.niet-toelaatbaar names the reporting institution (brin): a source of it needs its BRIN numbers"
        )
        expectOne(
            { add(&$0, institution, brin: ["91mb"]) },
            at: "organisations[5].brin[0]",
            saying: "not a BRIN number"
        )
        expectOne(
            {
                add(&$0, institution, brin: ["91MB"])
                add(&$0, other, brin: ["92MB", "91MB"])
            },
            at: "organisations[6].brin[1]",
            saying: "BRIN 91MB is bound to 00000099000000000401 already"
        )
        expectOne(
            { $0.organisations[2].brin = ["91MB"] },
            at: "organisations[2]",
            saying: "only a source has datasets, signing keys and BRIN numbers"
        )
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let found = problems {
            $0.purposes[0].fields["duo.onderwijsdeelname"]!.append("adres")
            $0.grants[1].purposes.append("alles")
            $0.regions[3].municipalities.append(MunicipalityCode("GM9999")!)
        }
        #expect(found.count == 3)
    }

    @Test func aPurposeNobodyHoldsIsAWarning() throws {
        var document = Fixture.document
        document.grants[0].purposes.removeAll { $0 == "kwetsbare-jongeren" }
        let policy = try Policy(document: document)
        do {
            let holds = policy.warnings.contains {
                $0.path.description == "purposes[1]" && $0.message.contains("granted to no consumer")
            }
            #expect(holds)
        }
    }

    @Test func pathsPointToLinesInTheFile() throws {
        let json = Array(
            """
            {
              "policy": {
                "purposes": [
                  { "id": "a" },
                  { "id": "b", "fields": { "duo.onderwijsdeelname": ["x", "adres"] } }
                ]
              }
            }
            """.utf8
        )
        let path = JSONPath([
            .key("policy"), .key("purposes"), .index(1), .key("fields"), .key("duo.onderwijsdeelname"), .index(1),
        ])
        let location = try #require(path.location(in: json))
        #expect(location.line == 5 && location.column == 63)
        #expect(path.description == #"policy.purposes[1].fields["duo.onderwijsdeelname"][1]"#)
        let missing = JSONPath([.key("policy"), .key("grants"), .index(0)])
        #expect(missing.location(in: json)?.line == 2, "the deepest part that exists")
    }
}

@Suite struct ExplanationTests {
    let policy = try! Policy(document: Fixture.document)

    @Test func aPermittedPurposeSplitsEveryFieldIntoDeliveredOrWithheldWithAReason() {
        for purpose in policy.purposeIDs {
            let explanation = policy.explain(consumer: Fixture.utrecht, purpose: purpose)
            #expect(explanation.permitted)
            #expect(explanation.region == RegionNumber(19) && explanation.regionName == "Utrecht")
            for view in explanation.datasets {
                let schema = DatasetSchema.defaults[view.dataset]!
                #expect(Set(view.delivered).union(view.withheld.map(\.field)) == Set(schema.fields.map(\.name)))
                #expect(Set(view.delivered).isDisjoint(with: view.withheld.map(\.field)))
                #expect(view.delivered == (policy.purpose(purpose)!.fields[view.dataset.value] ?? []))
                do {
                    let holds = view.withheld.allSatisfy { !$0.reason.isEmpty }
                    #expect(holds)
                }
                do {
                    let actual = view.withheld.first { $0.field == "bsn" }?.reason.contains("never leaves the gateway")
                    #expect(actual == true)
                }
            }
        }
    }

    @Test func conditionsAreExplainedPerDataset() {
        let explanation = policy.explain(consumer: Fixture.utrecht, purpose: "vsv-een-jaar-later")
        let duo = explanation.datasets.first { $0.dataset == "duo.onderwijsdeelname" }!
        let uwv = explanation.datasets.first { $0.dataset == "uwv.inkomstenverhoudingen" }!
        #expect(duo.conditions.contains("uitschrijvingsdatum 12 to 23 months before the reference date"))
        #expect(duo.records.contains("residents of region 19"))
        #expect(uwv.conditions == ["periode 0 to 2 months before the reference date"])
        #expect(uwv.records.contains("whichever municipality"))
        #expect(explanation.text.contains("decision: PERMITTED"))
    }

    @Test func aDeniedPurposeWithholdsEverythingAndSaysWhy() {
        let explanation = policy.explain(consumer: Fixture.amsterdam, purpose: "kwetsbare-jongeren")
        #expect(!explanation.permitted)
        #expect(explanation.refusal?.code == "no_grant")
        do {
            let holds = explanation.datasets.allSatisfy { $0.delivered.isEmpty }
            #expect(holds)
        }
        do {
            let holds = explanation.datasets.flatMap(\.withheld).filter { $0.field != "bsn" }.allSatisfy {
                $0.reason.contains("holds no grant")
            }
            #expect(holds)
        }
        #expect(explanation.text.contains("DENIED (no_grant)"))
    }

    @Test func unknownConsumersPurposesAndRolesAreDenied() {
        #expect(
            policy.explain(consumer: OIN("00000099000000000777")!, purpose: "vsv-opvolging").refusal?.code
                == "unknown_organisation"
        )
        #expect(policy.explain(consumer: Fixture.utrecht, purpose: "alles").refusal?.code == "unknown_purpose")
        #expect(policy.explain(consumer: Fixture.duo, purpose: "vsv-opvolging").refusal?.code == "wrong_role")
    }
}
