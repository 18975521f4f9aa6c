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

/// A position in delivery order: batches in the order they were committed, records in the order
/// of their batch (by line number). Because a batch becomes visible whole and at once, a cursor
/// never skips or repeats a record. Text form `<batch>.<line>`, `0.0` before the first.
public struct DeliveryCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let batch: Int64
    public let record: Int64

    public static let start = DeliveryCursor(batch: 0, record: 0)

    public init(batch: Int64, record: Int64) {
        self.batch = batch
        self.record = record
    }

    /// Parses `<batch>.<record>`; `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let b = Int64(parts[0]), let r = Int64(parts[1]), b >= 0, r >= 0 else { return nil }
        self.init(batch: b, record: r)
    }

    public var description: String { "\(batch).\(record)" }
    public static func < (a: Self, b: Self) -> Bool { (a.batch, a.record) < (b.batch, b.record) }
}

/// The store cannot do what was asked; the message says why (never a record value).
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
