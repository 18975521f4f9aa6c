import VangnetCore

extension DatasetSchema {
    /// The member a stored record of version 2 or later begins with: the version it follows
    /// (`{"$version":2,...}`). A record without it follows version 1. No field can take this
    /// name (field names start with a letter), and a source cannot send it (`unknown_field`).
    package static let versionMember = "$version"

    /// The version a stored record follows: its ``versionMember``, or 1.
    package static func version(of fields: [String: FieldValue]) -> Int {
        if case .integer(let version)? = fields[versionMember] { version } else { 1 }
    }
}

/// The datasets a gateway holds: every version of each that its configuration names.
///
/// Sources push any version held; the records keep the version they came with. Versions of one
/// dataset may add, drop and change fields, but agree on what makes records of the dataset
/// comparable across versions: the BSN field, the municipality field, the key fields and the
/// institution field. So a record of version 2 replaces the version 1 record with the same key,
/// and a withdrawal names a record whatever version it came with.
package struct DatasetCatalog: Sendable {
    /// Per dataset, its versions in ascending order.
    private let versionsByID: [DatasetID: [DatasetSchema]]

    /// The shipped datasets (``DatasetSchema/shipped``).
    package static let shipped = try! DatasetCatalog(DatasetSchema.shipped)

    /// - Throws: ``DatasetCatalogError`` naming every dataset whose versions disagree or repeat.
    package init(_ schemas: [DatasetSchema]) throws(DatasetCatalogError) {
        let grouped = Dictionary(grouping: schemas, by: \.id).mapValues { $0.sorted { $0.version < $1.version } }
        var problems: [String] = []
        for (id, versions) in grouped.sorted(by: { $0.key < $1.key }) {
            for (earlier, later) in zip(versions, versions.dropFirst()) {
                if earlier.version == later.version {
                    problems.append("\(id) version \(later.version) is defined twice")
                    continue
                }
                for disagreement in Self.disagreements(earlier, later) {
                    problems.append(
                        "\(id) version \(later.version) \(disagreement) than version \(earlier.version); every version of a dataset has the same BSN field, municipality field, key and institution field (a new version replaces the records of an earlier one by their key)"
                    )
                }
            }
        }
        guard problems.isEmpty else { throw DatasetCatalogError(problems: problems) }
        versionsByID = grouped
    }

    private static func disagreements(_ a: DatasetSchema, _ b: DatasetSchema) -> [String] {
        var found: [String] = []
        if a.bsnField != b.bsnField { found.append("names another BSN field (\(b.bsnField), not \(a.bsnField))") }
        if a.municipalityField != b.municipalityField {
            found.append(
                "names another municipality field (\(b.municipalityField), not \(a.municipalityField))"
            )
        }
        if a.keyFields != b.keyFields {
            found.append(
                "has another key ([\(b.keyFields.joined(separator: ", "))], not [\(a.keyFields.joined(separator: ", "))])"
            )
        }
        if a.institutionField != b.institutionField {
            found.append(
                "names another institution field (\(b.institutionField ?? "none"), not \(a.institutionField ?? "none"))"
            )
        }
        return found
    }

    /// The ids of the datasets held, in order.
    package var ids: [DatasetID] { versionsByID.keys.sorted() }

    /// The latest version of the dataset: what a new source starts with, and what a schema
    /// request without a version gets.
    package func latest(_ id: DatasetID) -> DatasetSchema? { versionsByID[id]?.last }

    /// The dataset at this version, if it is held.
    package func schema(_ id: DatasetID, version: Int) -> DatasetSchema? {
        versionsByID[id]?.first { $0.version == version }
    }

    /// Every version held of the dataset, oldest first; empty for a dataset not held.
    package func versions(of id: DatasetID) -> [DatasetSchema] { versionsByID[id] ?? [] }

    /// Every version of every dataset, by id and then version.
    package var all: [DatasetSchema] { ids.flatMap { versionsByID[$0]! } }

    /// The latest version of every dataset, by id.
    package var latestVersions: [DatasetSchema] { ids.map { versionsByID[$0]!.last! } }
}

/// Versions of one dataset that cannot be held together.
package struct DatasetCatalogError: Error, Sendable, CustomStringConvertible {
    /// One sentence per problem, naming the dataset and the versions.
    package let problems: [String]
    package var description: String { problems.joined(separator: "\n") }
}
