import VangnetCore

extension DatasetSchema {
    /// DUO onderwijsdeelname: enrolments in education. An enrolment is identified by the person, the
    /// school (BRIN) and the day of enrolment.
    package static let duoOnderwijsdeelname = DatasetSchema(
        id: "duo.onderwijsdeelname",
        version: 1,
        fields: [
            FieldSpec("bsn", .bsn),
            FieldSpec("geboortedatum", .date),
            FieldSpec("gemeentecode", .municipality),
            FieldSpec("brin", .code("99AA")),
            FieldSpec("onderwijssoort", .enumeration(["vo", "vso", "pro", "mbo"])),
            FieldSpec("crebo", .code("99999"), required: false),
            FieldSpec("niveau", .enumeration(["entree", "1", "2", "3", "4"]), required: false),
            FieldSpec("leerweg", .enumeration(["BOL", "BBL"]), required: false),
            FieldSpec("inschrijvingsdatum", .date),
            FieldSpec("uitschrijvingsdatum", .date, required: false),
            FieldSpec("diploma", .boolean, required: false),
            FieldSpec("startkwalificatie", .boolean),
            FieldSpec("vsv", .boolean),
        ],
        key: ["brin", "inschrijvingsdatum"],
        dateRules: [
            .notAfterCreation("geboortedatum"),
            .notBefore("inschrijvingsdatum", earlier: "geboortedatum"),
            .notBefore("uitschrijvingsdatum", earlier: "inschrijvingsdatum"),
        ]
    )

    /// UWV inkomstenverhoudingen: employment and benefits. An income relationship is identified, per
    /// month reported, by the person, its kind and its start date.
    package static let uwvInkomstenverhoudingen = DatasetSchema(
        id: "uwv.inkomstenverhoudingen",
        version: 1,
        fields: [
            FieldSpec("bsn", .bsn),
            FieldSpec("gemeentecode", .municipality),
            FieldSpec("periode", .month),
            FieldSpec("soort", .enumeration(["dienstverband", "WW", "Wajong", "WIA", "ZW"])),
            FieldSpec("sector", .integer(1...99), required: false),
            FieldSpec("uren_per_week", .decimal(0...80, places: 2), required: false),
            FieldSpec(
                "loonklasse",
                .enumeration(["0-1000", "1000-2000", "2000-3000", "3000-4000", "4000+"]),
                required: false
            ),
            FieldSpec("startdatum", .date),
            FieldSpec("einddatum", .date, required: false),
        ],
        key: ["periode", "soort", "startdatum"],
        dateRules: [.notBefore("einddatum", earlier: "startdatum")]
    )

    /// The schemas that ship with Vangnet, by id.
    package static let defaults: [DatasetID: DatasetSchema] = [
        duoOnderwijsdeelname.id: duoOnderwijsdeelname,
        uwvInkomstenverhoudingen.id: uwvInkomstenverhoudingen,
    ]
}
