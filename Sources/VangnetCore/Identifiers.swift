import Foundation

/// A batch id: a UUID chosen by the source, unique per source.
package struct BatchID: Sendable, Hashable, Codable, CustomStringConvertible {
    package let uuid: UUID
    package init(_ uuid: UUID = UUID()) { self.uuid = uuid }
    package init?(_ text: String) {
        guard let uuid = UUID(uuidString: text) else { return nil }
        self.uuid = uuid
    }
    package var description: String { uuid.uuidString.lowercased() }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = BatchID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a batch id is a UUID")
            )
        }
        self = id
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What a batch is, as its signed header declares it.
package enum BatchMode: String, Sendable, Codable, CaseIterable {
    /// The source's complete current picture of the dataset: its records of that dataset that are
    /// missing from the batch are withdrawn.
    case full
    /// Records added or changed, and records withdrawn by key; the rest stays as it is.
    case changes
}

/// A name given in configuration: a dataset id or a purpose id. `Kind` keeps the two apart.
package struct Name<Kind>: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral,
    RawRepresentable
{
    package let value: String
    package init(_ value: String) { self.value = value }
    package init(stringLiteral value: String) { self.value = value }
    package init(rawValue: String) { self.value = rawValue }
    package var rawValue: String { value }
    package var description: String { value }
    package static func < (a: Self, b: Self) -> Bool { a.value < b.value }
}

/// Tag of dataset ids.
package enum DatasetKind {}
/// Tag of purpose ids.
package enum PurposeKind {}

/// The id of a dataset schema, for example `duo.onderwijsdeelname`.
package typealias DatasetID = Name<DatasetKind>
/// The id of a purpose (doel), for example `vsv-opvolging`.
package typealias PurposeID = Name<PurposeKind>

/// What an organisation may do at the gateway.
package enum Role: String, Sendable, Codable, CaseIterable {
    /// A source agency (DUO, UWV): pushes batches.
    case source
    /// A region's contactgemeente: pulls its region's records.
    case consumer
    /// A security officer: reads the audit log.
    case auditor
    /// The platform team's monitoring (Prometheus): reads `/metrics`, nothing else.
    case monitor
    /// Approves or refuses re-identification requests (a contactgemeente's privacy officer), never
    /// its own.
    case approver
}
