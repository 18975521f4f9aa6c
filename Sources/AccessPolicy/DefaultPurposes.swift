import VangnetCore

extension PolicyDocument.Purpose {
    /// The age bounds of the regional programme: from 12 up to (not including) 27 since 1 January
    /// 2026 (Wet van school naar duurzaam werk); under 23 before. Change them in the policy file.
    package static let programmeAges = RowCondition.age(field: "geboortedatum", atLeast: 12, atMost: 26)

    static let legalBasis =
        "Wet van school naar duurzaam werk (Kamerstuk 36667); Regeling regionaal programma en Doorstroompuntfunctie 2026-2029 (BWBR0051614)"

    /// Follow-up of early school leavers without a starting qualification (RMC / Doorstroompunt).
    package static let vsvOpvolging = PolicyDocument.Purpose(
        id: "vsv-opvolging",
        legalBasis: "\(legalBasis): opvolging van voortijdig schoolverlaters zonder startkwalificatie",
        populationDataset: "duo.onderwijsdeelname",
        population: [
            .equals(field: "vsv", value: .boolean(true)), .equals(field: "startkwalificatie", value: .boolean(false)),
            programmeAges,
        ],
        fields: ["duo.onderwijsdeelname": ["gemeentecode", "brin", "onderwijssoort", "niveau", "uitschrijvingsdatum"]],
        retentionDays: 2 * 365
    )

    /// Monitoring of young people in a vulnerable position: practical education (pro), special
    /// secondary education (vso) and the entry level of mbo (entree).
    package static let kwetsbareJongeren = PolicyDocument.Purpose(
        id: "kwetsbare-jongeren",
        legalBasis: "\(legalBasis): monitoring van jongeren in een kwetsbare positie (pro, vso, entree)",
        populationDataset: "duo.onderwijsdeelname",
        population: [
            .anyOf([
                .oneOf(field: "onderwijssoort", values: ["pro", "vso"]),
                .equals(field: "niveau", value: .text("entree")),
            ]), programmeAges,
        ],
        fields: [
            "duo.onderwijsdeelname": [
                "gemeentecode", "brin", "onderwijssoort", "niveau", "inschrijvingsdatum", "uitschrijvingsdatum",
                "diploma",
            ]
        ],
        retentionDays: 3 * 365
    )

    /// Early school leavers one year on: DUO's leavers of 12 to 23 months ago, with their UWV
    /// income relationships of the last three months, to see whether they found work, a benefit,
    /// or neither (no UWV record).
    package static let vsvEenJaarLater = PolicyDocument.Purpose(
        id: "vsv-een-jaar-later",
        legalBasis:
            "\(legalBasis): monitoring van voortijdig schoolverlaters een jaar na uitval (werk, uitkering of geen van beide)",
        populationDataset: "duo.onderwijsdeelname",
        population: [
            .equals(field: "vsv", value: .boolean(true)), .equals(field: "startkwalificatie", value: .boolean(false)),
            .monthsAgo(field: "uitschrijvingsdatum", atLeast: 12, atMost: 23), programmeAges,
        ],
        fields: [
            "duo.onderwijsdeelname": ["gemeentecode", "onderwijssoort", "niveau", "uitschrijvingsdatum"],
            "uwv.inkomstenverhoudingen": ["periode", "soort"],
        ],
        conditions: ["uwv.inkomstenverhoudingen": [.monthsAgo(field: "periode", atLeast: 0, atMost: 2)]],
        retentionDays: 2 * 365
    )

    /// The three purposes Vangnet ships with.
    package static let defaults: [PolicyDocument.Purpose] = [vsvOpvolging, kwetsbareJongeren, vsvEenJaarLater]

    /// The reports of mbo institutions on applicants they cannot admit, for the contactgemeente of
    /// the applicant's region: the fields the RMC needs to act (where, which programme, when and
    /// why), for young people of the programme's ages. The law expects the contactgemeente to act
    /// promptly: a report not collected within five working days is counted as overdue.
    package static let mboNietToelaatbaar = PolicyDocument.Purpose(
        id: "mbo-niet-toelaatbaar",
        legalBasis:
            "Wet educatie en beroepsonderwijs, art. 8.1.1c (toelatingsrecht): melding door de mbo-instelling van een niet-toelaatbare aanmelder aan de contactgemeente van de RMC-regio; \(legalBasis)",
        populationDataset: "mbo.niet-toelaatbaar",
        population: [programmeAges],
        fields: [
            "mbo.niet-toelaatbaar": [
                "gemeentecode", "brin", "crebo", "niveau", "aanmelddatum", "besluitdatum", "reden",
            ]
        ],
        retentionDays: 365,
        collectWithinWorkingDays: 5
    )
}
