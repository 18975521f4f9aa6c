import Pseudonymisation
import Records
import VangnetCore

/// A pseudonymised record routed to its region: what the store keeps.
public struct RoutedRecord: Sendable {
    public let record: PseudonymisedRecord
    /// The region of the record's municipality of residence.
    public let region: RegionNumber

    public init(record: PseudonymisedRecord, region: RegionNumber) {
        self.record = record
        self.region = region
    }
}

/// A record read back from the store, for delivery. Has no BSN: the store never had one.
public struct StoredRecord: Sendable {
    /// Position in delivery order.
    public let cursor: DeliveryCursor
    public let dataset: DatasetID
    public let person: InternalPseudonym
    public let region: RegionNumber
    public let fields: [String: FieldValue]
}

/// What happened when a batch was offered for commit.
public enum BatchCommitOutcome: Sendable {
    /// Committed now, with this receipt.
    case committed(SignedReceiptJSON)
    /// The same source already committed this batch id with the same envelope: the first receipt.
    case duplicate(SignedReceiptJSON)
    /// The same source already committed this batch id with a different envelope.
    case conflict
}

/// A signed receipt as stored (its JSON text).
public typealias SignedReceiptJSON = String

/// A staging area: a batch whose records are being stored but that is not committed.
public struct StagingID: Sendable, Hashable {
    let seq: Int64
}

/// The store cannot do what was asked; the message says why (never a record value).
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
