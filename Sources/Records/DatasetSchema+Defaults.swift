import VangnetCore

extension DatasetSchema {
    /// The datasets that ship with Vangnet: the definitions of config/datasets/, embedded
    /// (scripts/generate-datasets.sh), every version, in file-name order. A gateway whose
    /// configuration names no dataset files has these.
    package static let shipped: [DatasetSchema] = shippedDefinitions.map { file, text in
        do { return try parse(definition: Array(text.utf8), file: "config/datasets/\(file)") } catch {
            preconditionFailure("a shipped dataset definition does not parse: \(error)")
        }
    }

    private static func shipped(_ id: DatasetID) -> DatasetSchema {
        shipped.last { $0.id == id }!
    }

    /// DUO onderwijsdeelname: enrolments in education. An enrolment is identified by the person, the
    /// school (BRIN) and the day of enrolment.
    package static let duoOnderwijsdeelname = shipped("duo.onderwijsdeelname")

    /// UWV inkomstenverhoudingen: employment and benefits. An income relationship is identified, per
    /// month reported, by the person, its kind and its start date.
    package static let uwvInkomstenverhoudingen = shipped("uwv.inkomstenverhoudingen")

    /// mbo niet-toelaatbaar: applicants an mbo institution cannot admit, reported for the
    /// contactgemeente of their region. The institution's BRIN is its ``institutionField``.
    package static let mboNietToelaatbaar = shipped("mbo.niet-toelaatbaar")

    /// The shipped schemas, by id (the latest version of each).
    package static let defaults: [DatasetID: DatasetSchema] = Dictionary(
        shipped.map { ($0.id, $0) },
        uniquingKeysWith: { $0.version > $1.version ? $0 : $1 }
    )
}
