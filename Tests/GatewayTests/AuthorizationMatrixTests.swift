import AccessPolicy
import DevelopmentSupport
import Foundation
import Gateway
import Pseudonymisation
import Records
import Testing
import VangnetCore
import VangnetCrypto

/// Every consumer x purpose x region x field of a test configuration: what a pull delivers is
/// exactly what the policy grants, no more and no less.
///
/// The expectation is computed by an oracle that knows each synthetic person's attributes and
/// the purposes' intent written out by hand (not through the gateway's condition code), and the
/// pseudonyms are recomputed from the gateway's root key.
@Suite struct AuthorizationMatrixTests {
    /// One synthetic young person and the records the sources hold about them.
    struct Person {
        let bsn: String
        let duo: [DUO]
        let uwv: [UWV]
    }

    struct DUO {
        let municipality: String, birth: CalendarDate, sort: String, level: String?, left: CalendarDate?,
            qualified: Bool, vsv: Bool
        /// The day of enrolment: with the BSN and BRIN, what identifies the enrolment.
        var enrolled = "2022-08-22"
        var line: String {
            var fields = [
                #""geboortedatum":"\#(birth)""#, #""gemeentecode":"\#(municipality)""#, #""brin":"25LP""#,
                #""onderwijssoort":"\#(sort)""#,
                #""inschrijvingsdatum":"\#(enrolled)""#, #""startkwalificatie":\#(qualified)"#, #""vsv":\#(vsv)"#,
            ]
            if let level { fields.append(#""niveau":"\#(level)""#) }
            if let left { fields.append(#""uitschrijvingsdatum":"\#(left)""#) }
            return "{" + fields.joined(separator: ",") + "}"
        }
        /// The fields as the gateway would deliver them (absent optional fields are null).
        var values: [String: String] {
            [
                "gemeentecode": "\"\(municipality)\"", "brin": "\"25LP\"", "onderwijssoort": "\"\(sort)\"",
                "niveau": level.map { "\"\($0)\"" } ?? "null",
                "inschrijvingsdatum": "\"\(enrolled)\"", "uitschrijvingsdatum": left.map { "\"\($0)\"" } ?? "null",
                "diploma": "null",
                "geboortedatum": "\"\(birth)\"", "startkwalificatie": "\(qualified)", "vsv": "\(vsv)",
            ]
        }
    }

    struct UWV {
        let municipality: String, period: String, kind: String
        var line: String {
            #"{"gemeentecode":"\#(municipality)","periode":"\#(period)","soort":"\#(kind)","uren_per_week":20,"startdatum":"2024-01-01"}"#
        }
        var values: [String: String] {
            [
                "periode": "\"\(period)\"", "soort": "\"\(kind)\"", "gemeentecode": "\"\(municipality)\"",
                "uren_per_week": "20",
            ]
        }
    }

    // The test clock is 2026-11-23.
    static let today = 20_261_123
    static func age(_ birth: CalendarDate) -> Int {
        (today - (birth.year * 10_000 + birth.month * 100 + birth.day)) / 10_000
    }
    static func monthsAgo(_ year: Int, _ month: Int, _ day: Int) -> Int {
        ((2026 * 12 + 11) * 100 + 23 - ((year * 12 + month) * 100 + day)) / 100
    }

    /// Regions 19, 21 and 29 have a contactgemeente; 3 (Groningen) has none.
    static let municipalities: [Int: [String]] = [
        19: ["GM0344", "GM0355"], 21: ["GM0363", "GM0362"], 29: ["GM0599"], 3: ["GM0014"],
    ]
    static let regionOf = Dictionary(
        uniqueKeysWithValues: municipalities.flatMap { region, codes in codes.map { ($0, region) } }
    )

    /// The consumers of the test configuration and their grants.
    static let consumers: [(file: String, oin: OIN, region: Int, grants: Set<String>)] = [
        (
            "region-utrecht", DevelopmentSetup.regionUtrecht, 19,
            ["vsv-opvolging", "kwetsbare-jongeren", "vsv-een-jaar-later"]
        ),
        ("region-amsterdam", DevelopmentSetup.regionAmsterdam, 21, ["vsv-opvolging", "vsv-een-jaar-later"]),
        ("region-rijnmond", TestGateway.rijnmond, 29, ["kwetsbare-jongeren"]),
    ]

    /// Population membership by each purpose's intent, on one DUO record.
    static func inPopulation(_ purpose: String, _ d: DUO) -> Bool {
        let ageOK = (12...26).contains(age(d.birth))
        switch purpose {
        case "vsv-opvolging": return d.vsv && !d.qualified && ageOK
        case "kwetsbare-jongeren": return (d.sort == "pro" || d.sort == "vso" || d.level == "entree") && ageOK
        case "vsv-een-jaar-later":
            guard let left = d.left else { return false }
            return d.vsv && !d.qualified && ageOK && (12...23).contains(monthsAgo(left.year, left.month, left.day))
        default: return false
        }
    }

    static func uwvDelivered(_ purpose: String, _ u: UWV) -> Bool {
        guard purpose == "vsv-een-jaar-later" else { return false }
        let parts = u.period.split(separator: "-").map { Int($0)! }
        return (0...2).contains(monthsAgo(parts[0], parts[1], 1))
    }

    static let fields: [String: [String: [String]]] = [
        "vsv-opvolging": [
            "duo.onderwijsdeelname": ["gemeentecode", "brin", "onderwijssoort", "niveau", "uitschrijvingsdatum"]
        ],
        "kwetsbare-jongeren": [
            "duo.onderwijsdeelname": [
                "gemeentecode", "brin", "onderwijssoort", "niveau", "inschrijvingsdatum", "uitschrijvingsdatum",
                "diploma",
            ]
        ],
        "vsv-een-jaar-later": [
            "duo.onderwijsdeelname": ["gemeentecode", "onderwijssoort", "niveau", "uitschrijvingsdatum"],
            "uwv.inkomstenverhoudingen": ["periode", "soort"],
        ],
    ]

    /// People whose attributes cover both sides of every condition, in four regions.
    static func people() -> [Person] {
        var synth = SyntheticRecords(seed: 7)
        var rng = SplitMix64(seed: 99)  // the attributes, apart from the BSN generator
        let births = [
            "2015-06-01", "2014-11-23", "2014-11-24", "2006-03-15", "2000-01-01", "1999-11-24", "1999-11-23",
            "1995-05-05",
        ].map { CalendarDate($0)! }
        let leftDates: [CalendarDate?] = [
            nil, "2026-06-30", "2025-11-23", "2025-11-24", "2025-05-01", "2024-12-23", "2024-11-23", "2024-01-10",
        ].map { $0.flatMap { CalendarDate($0) } }
        let periods = ["2026-11", "2026-10", "2026-09", "2026-08", "2026-03"]
        let codes = municipalities.values.flatMap { $0 }.sorted()
        return (0..<240).map { i in
            func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
            let home = codes[i % codes.count]
            var duo = [
                DUO(
                    municipality: home,
                    birth: pick(births),
                    sort: pick(["vo", "vso", "pro", "mbo"]),
                    level: pick([nil, "entree", "2", "4"]),
                    left: pick(leftDates),
                    qualified: pick([false, false, true]),
                    vsv: pick([true, true, false])
                )
            ]
            if i % 7 == 0 {  // moved: a second enrolment in another region
                let first = duo[0]
                duo.append(
                    DUO(
                        municipality: pick(codes),
                        birth: first.birth,
                        sort: pick(["vo", "pro", "mbo"]),
                        level: first.level,
                        left: pick(leftDates),
                        qualified: first.qualified,
                        vsv: pick([true, false]),
                        enrolled: "2023-08-21"
                    )
                )
            }
            if i % 11 == 0 { duo = [] }  // known to UWV only
            // Income relationships are identified by period, kind and start: one of each per person.
            var seen = Set<String>()
            let uwv = (0..<Int(rng.next() % 3)).map { _ in
                UWV(
                    municipality: pick(codes + ["GM0193"]),
                    period: pick(periods),
                    kind: pick(["dienstverband", "WW", "Wajong"])
                )
            }.filter { seen.insert($0.period + $0.kind).inserted }
            return Person(bsn: synth.bsn(), duo: duo, uwv: uwv)
        }
    }

    /// What `consumer` must receive for `purpose`: (pseudonym, dataset, fields as JSON values) of every record.
    static func expected(_ people: [Person], region: Int, purpose: String, pseudonym: (String) -> String) -> [String] {
        var out: [String] = []
        for person in people {
            let admitted = person.duo.filter { regionOf[$0.municipality] == region && inPopulation(purpose, $0) }
            guard !admitted.isEmpty else { continue }
            let duoFields = fields[purpose]!["duo.onderwijsdeelname"]!
            for d in admitted {
                out.append(
                    row(pseudonym(person.bsn), "duo.onderwijsdeelname", duoFields.map { "\($0)=\(d.values[$0]!)" })
                )
            }
            if let uwvFields = fields[purpose]!["uwv.inkomstenverhoudingen"] {
                for u in person.uwv where uwvDelivered(purpose, u) {
                    out.append(
                        row(
                            pseudonym(person.bsn),
                            "uwv.inkomstenverhoudingen",
                            uwvFields.map { "\($0)=\(u.values[$0]!)" }
                        )
                    )
                }
            }
        }
        return out.sorted()
    }

    static func row(_ pseudonym: String, _ dataset: String, _ fields: [String]) -> String {
        ([pseudonym, dataset] + fields).joined(separator: "|")
    }

    @Test func everyConsumerGetsExactlyWhatThePolicyGrants() async throws {
        let people = Self.people()
        try await TestGateway.with(policy: { policy in
            let region29 = policy.regions.firstIndex { $0.number.value == 29 }!
            policy.regions[region29].contactgemeente = .init(
                name: "Gemeente Rotterdam (test)",
                oin: TestGateway.rijnmond
            )
            policy.organisations.append(
                .init(oin: TestGateway.rijnmond, name: "Gemeente Rotterdam (RMC-regio 29 Rijnmond)", role: .consumer)
            )
            policy.grants.append(.init(consumer: TestGateway.rijnmond, purposes: ["kwetsbare-jongeren"]))
        }) { gw in
            let duoLines = people.flatMap { p in p.duo.map { d in "{\"bsn\":\"\(p.bsn)\"," + d.line.dropFirst() } }
            let uwvLines = people.flatMap { p in p.uwv.map { u in "{\"bsn\":\"\(p.bsn)\"," + u.line.dropFirst() } }
            // Two batches per source, so population and deliveries span batches.
            for (lines, source) in [(duoLines, "duo"), (uwvLines, "uwv")] {
                for half in [lines[..<(lines.count / 2)], lines[(lines.count / 2)...]] {
                    let answer = try await gw.using(source) {
                        try await $0.push(envelope: try gw.seal(Array(half), as: source))
                    }
                    #expect(answer.status == 201)
                    #expect(!answer.body.contains("\"rejections\":[{"), "every synthetic record is valid")
                }
            }
            let root = try KeyFile.readSecret(gw.keys.appendingPathComponent("pseudonym-root.e1.key"))
            let pseudonymiser = Pseudonymiser(keys: try PseudonymKeys(root: root, epoch: 1))
            var permittedNonEmpty = 0
            var combinations = 0
            for consumer in Self.consumers {
                for purpose in ["vsv-opvolging", "kwetsbare-jongeren", "vsv-een-jaar-later"] {
                    combinations += 1
                    let region = RegionNumber(consumer.region)!
                    let pulled = try await gw.using(consumer.file) {
                        client -> (status: Int, rows: [[String: Any]], code: String?) in
                        var rows: [[String: Any]] = []
                        let pulled = try await client.pullAll(purpose: purpose, view: "current", limit: 50) { answer in
                            rows += answer.body.split(separator: "\n").map {
                                try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
                            }
                        }
                        if case .failure(let failure) = pulled {
                            return (failure.answer.status, [], failure.answer.refusal?.code)
                        }
                        return (200, rows, nil)
                    }
                    let label = "\(consumer.file) x \(purpose)"
                    guard consumer.grants.contains(purpose) else {
                        #expect(
                            pulled.status == 403 && pulled.code == "no_grant",
                            "\(label): no grant, nothing delivered"
                        )
                        continue
                    }
                    #expect(pulled.status == 200, "\(label)")
                    let expected = Self.expected(people, region: consumer.region, purpose: purpose) { bsn in
                        pseudonymiser.deliveryPseudonym(
                            for: pseudonymiser.internalPseudonym(of: BSN(bsn)!),
                            region: region,
                            purpose: PurposeID(purpose)
                        )!.text
                    }
                    // Every record carries exactly the purpose's fields of its dataset: no more, no fewer.
                    for row in pulled.rows {
                        let dataset = row["dataset"] as! String
                        let allowed = try #require(
                            Self.fields[purpose]![dataset],
                            "\(label): a dataset the purpose does not use"
                        )
                        #expect(
                            Set(row.keys) == Set(["id", "pseudonym", "dataset"] + allowed),
                            "\(label): fields of \(dataset)"
                        )
                    }
                    let delivered = pulled.rows.map { row -> String in
                        let dataset = row["dataset"] as! String
                        let names = Self.fields[purpose]![dataset] ?? []
                        return Self.row(
                            row["pseudonym"] as! String,
                            dataset,
                            names.map { name -> String in
                                let value = row[name]
                                let text: String
                                switch value {
                                case is NSNull, nil: text = "null"
                                case let s as String: text = "\"\(s)\""
                                // No delivered field of these purposes is a number or boolean.
                                default: text = "\(value!)"
                                }
                                return "\(name)=\(text)"
                            }
                        )
                    }.sorted()
                    // Counted, not printed: the rows name no BSN, but a failure message need not list them.
                    #expect(
                        delivered.count == expected.count,
                        "\(label): \(delivered.count) records delivered, \(expected.count) granted"
                    )
                    #expect(
                        Bool(delivered == expected),
                        "\(label): \(Set(delivered).subtracting(expected).count) delivered beyond the grant, \(Set(expected).subtracting(delivered).count) granted but missing"
                    )
                    if !expected.isEmpty { permittedNonEmpty += 1 }
                }
            }
            #expect(combinations == 9)
            #expect(
                permittedNonEmpty == 6,
                "every permitted combination has records to compare: the matrix is not vacuous"
            )
            // Sources and the auditor receive nothing whatever the purpose.
            for name in ["duo", "uwv", "auditor"] {
                let answer = try await gw.using(name) { try await $0.pull(purpose: "vsv-opvolging") }
                #expect(answer.refusal?.code == "wrong_role")
            }
        }
    }
}
