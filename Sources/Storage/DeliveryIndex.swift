import Foundation
import Pseudonymisation
import Records
import VangnetCore
import VangnetCrypto

// The delivery index: what every region receives for every purpose, kept as batches commit and as
// days pass, so that a pull reads an index range and never the store as a whole.
//
// Each (region, purpose) is a *stream*. A stream holds versions of *items* (one delivered record
// each, named by a 16-byte digest specific to the stream): a version is the item's line as
// delivered, or a withdrawal. Every version gets the next number of one counter (`seq`), in commit
// order, and ends (`superseded`) when a newer version of its item is written. So:
//
// - the picture at `S` is, per item, the version with `seq <= S < superseded` that is not a
//   withdrawal: a consistent snapshot, whatever commits after `S`;
// - the changes after `C` are the live versions (not superseded) with `seq > C`, in `seq` order:
//   applying them to the picture at `C` gives the picture now, because an item's newest version is
//   always live and always numbered after the ones it replaced.
//
// Superseded versions are needed only by snapshots still being read, and withdrawals only by
// cursors older than them; compaction removes both after their lifetime and raises a horizon
// below which a snapshot or cursor is answered "expired" instead of wrongly.

/// One line of a batch, ready to stage.
public enum StagedLine: Sendable {
    case record(RoutedRecord)
    case withdrawal(PseudonymisedWithdrawal)
}

/// A record as it stands now: the current version of one record (the newest a source sent for its
/// key, not withdrawn).
public struct CurrentRecord: Sendable {
    public let key: RecordKey
    public let dataset: DatasetID
    public let person: InternalPseudonym
    public let region: RegionNumber
    public let fields: [String: FieldValue]
    /// When the source last stated this record: the commit of its version, or of a later
    /// complete picture of its dataset (which held it, or it would have been withdrawn).
    public let confirmedAt: Date

    public init(key: RecordKey, dataset: DatasetID, person: InternalPseudonym, region: RegionNumber, fields: [String: FieldValue], confirmedAt: Date) {
        (self.key, self.dataset, self.person, self.region, self.fields, self.confirmedAt) = (key, dataset, person, region, fields, confirmedAt)
    }
}

/// What one region receives for one purpose.
public struct DeliveryStream: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let region: RegionNumber
    public let purpose: PurposeID
    public init(region: RegionNumber, purpose: PurposeID) { (self.region, self.purpose) = (region, purpose) }
    public static func < (a: Self, b: Self) -> Bool { (a.region.value, a.purpose.value) < (b.region.value, b.purpose.value) }
    public var description: String { "region \(region)/\(purpose)" }
}

/// A record as one stream delivers it.
public struct DeliveryItem: Sendable, Equatable {
    public let stream: DeliveryStream
    /// The 16 bytes naming the item within its stream (the digest of its delivered identifier).
    public let item: [UInt8]
    /// The record as delivered: one JSON object (identifier, pseudonym, dataset, the purpose's fields).
    public let line: String
    public init(stream: DeliveryStream, item: [UInt8], line: String) { (self.stream, self.item, self.line) = (stream, item, line) }
}

/// The policy's part of delivery, handed to the store so that its index follows the policy: for
/// one person's current records on a day, what every region receives.
public protocol DeliveryRules: Sendable {
    /// Differs whenever ``deliveries(of:on:)`` could answer differently for the same records and
    /// day (another policy, another set of held key epochs): the store rebuilds its index then.
    var version: String { get }
    /// Every item delivered for a person with these current records (all of one person) on
    /// `day`, and the first later day on which the answer could change with no new records (an
    /// age or a month count rolling over, retention ending); `nil` if none.
    func deliveries(of records: [CurrentRecord], on day: CalendarDate) -> (items: [DeliveryItem], recheck: CalendarDate?)
}

/// The newest version of an item, as the index holds it.
public struct LiveDelivery: Sendable, Equatable {
    public let stream: Int64
    public let item: [UInt8]
    /// The version's number where the store reads it with the version (PostgreSQL); `nil` where
    /// the store finds an item's live version by the item (SQLite: the newest, not superseded).
    public let seq: Int64?
    /// The digest of the version's line (``DeliveryIndex/digest(of:)``); `nil`: the item was withdrawn.
    public let digest: [UInt8]?
    public init(stream: Int64, item: [UInt8], seq: Int64?, digest: [UInt8]?) { (self.stream, self.item, self.seq, self.digest) = (stream, item, seq, digest) }
    public var slot: DeliverySlot { DeliverySlot(stream: stream, item: item) }
}

/// An item in its stream: where its versions are.
public struct DeliverySlot: Sendable, Hashable {
    public let stream: Int64
    public let item: [UInt8]
    public init(stream: Int64, item: [UInt8]) { (self.stream, self.item) = (stream, item) }
}

/// An item the rules deliver now: its line and the line's digest.
public struct DesiredDelivery: Sendable, Equatable {
    public let stream: Int64
    public let item: [UInt8]
    public let line: String
    public let digest: [UInt8]
    public init(stream: Int64, item: [UInt8], line: String, digest: [UInt8]) { (self.stream, self.item, self.line, self.digest) = (stream, item, line, digest) }
}

/// A new version of an item: its line, or (`nil`) its withdrawal; superseding the live version
/// `replaces`, if there is one.
public struct DeliveryWrite: Sendable, Equatable {
    public let stream: Int64
    public let item: [UInt8]
    public let line: String?
    public let digest: [UInt8]?
    public let replaces: LiveDelivery?
    /// The number of the version superseded, where the store knows it.
    public var supersedes: Int64? { replaces?.seq }
}

/// A version read from a stream.
public struct DeliveryRow: Sendable, Equatable {
    public let seq: Int64
    public let item: [UInt8]
    /// `nil`: a withdrawal (only in changes).
    public let line: String?
    public init(seq: Int64, item: [UInt8], line: String?) { (self.seq, self.item, self.line) = (seq, item, line) }
}

/// What a pull reads.
public enum DeliveryRead: Sendable {
    /// The picture at `snapshot` (the newest if `nil`), items after `item` in item order.
    case picture(DeliveryStream, snapshot: Int64?, after: [UInt8]?, limit: Int)
    /// The live versions after `seq`, in order.
    case changes(DeliveryStream, after: Int64, limit: Int)
}

/// The versions a read found, in the read's order, with their identifiers and lines back to back
/// in one buffer: a page of 10,000 is a few allocations rather than two per row, and its lines go
/// into the response straight from the bytes the database gave.
public struct DeliveryRows: Sendable, RandomAccessCollection {
    /// Where one version's identifier and line sit in the buffer.
    public struct Entry: Sendable {
        public let seq: Int64
        fileprivate let start: Int
        fileprivate let itemCount: Int32
        /// -1: a withdrawal (no line).
        fileprivate let lineCount: Int32
    }

    private final class Storage: Sendable {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    private let storage: Storage
    private var entries: [Entry]

    /// Rows as a store reads them: each appended with the bytes of its identifier and line.
    public struct Builder {
        private var bytes: [UInt8] = [], entries: [Entry] = []
        public init(capacity: Int = 0) { entries.reserveCapacity(capacity) }

        /// `line` `nil`: a withdrawal.
        public mutating func append(seq: Int64, item: UnsafeRawBufferPointer, line: UnsafeRawBufferPointer?) {
            entries.append(Entry(seq: seq, start: bytes.count, itemCount: Int32(item.count), lineCount: line.map { Int32($0.count) } ?? -1))
            bytes.append(contentsOf: item)
            if let line { bytes.append(contentsOf: line) }
        }

        public func finish() -> DeliveryRows { DeliveryRows(storage: Storage(bytes), entries: entries) }
    }

    private init(storage: Storage, entries: [Entry]) { (self.storage, self.entries) = (storage, entries) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }
    public subscript(position: Int) -> Entry { entries[position] }

    /// The 16 bytes of an identifier.
    public func item(_ entry: Entry) -> ArraySlice<UInt8> { storage.bytes[entry.start..<entry.start + Int(entry.itemCount)] }

    /// The record's line (a JSON object), or `nil` for a withdrawal.
    public func line(_ entry: Entry) -> ArraySlice<UInt8>? {
        guard entry.lineCount >= 0 else { return nil }
        let start = entry.start + Int(entry.itemCount)
        return storage.bytes[start..<start + Int(entry.lineCount)]
    }

    /// The length of ``line(_:)`` in bytes; `nil` for a withdrawal.
    public func lineCount(_ entry: Entry) -> Int? { entry.lineCount >= 0 ? Int(entry.lineCount) : nil }

    /// The first `n` rows.
    public mutating func keepFirst(_ n: Int) { if entries.count > n { entries.removeLast(entries.count - n) } }

    /// Orders the rows by identifier.
    public mutating func sortByItem() {
        let bytes = storage.bytes
        entries.sort { a, b in
            bytes[a.start..<a.start + Int(a.itemCount)].lexicographicallyPrecedes(bytes[b.start..<b.start + Int(b.itemCount)])
        }
    }

    /// Each row as a value of its own.
    public var rows: [DeliveryRow] {
        entries.map { entry in
            DeliveryRow(seq: entry.seq, item: Array(item(entry)), line: line(entry).map { String(decoding: $0, as: UTF8.self) })
        }
    }
}

/// The answer to a ``DeliveryRead``, read in one transaction.
public struct DeliveryReadResult: Sendable {
    public let found: DeliveryRows
    /// ``found``, each row as a value of its own.
    public var rows: [DeliveryRow] { found.rows }
    /// The newest version number when the rows were read (a new snapshot is taken here).
    public let head: Int64
    /// A snapshot older than this can no longer be read whole.
    public let snapshotHorizon: Int64
    /// A changes cursor older than this may have missed withdrawals.
    public let cursorHorizon: Int64
    public init(found: DeliveryRows, head: Int64, snapshotHorizon: Int64, cursorHorizon: Int64) {
        (self.found, self.head, self.snapshotHorizon, self.cursorHorizon) = (found, head, snapshotHorizon, cursorHorizon)
    }
}

/// What a commit changed in the current records.
public struct CommitSummary: Sendable, Equatable {
    public var added = 0
    public var changed = 0
    public var unchanged = 0
    public var withdrawn = 0
    /// Withdrawals of records that did not exist.
    public var withdrawnUnknown = 0
    public init() {}
}

/// How long superseded versions and withdrawals are kept (snapshots and cursors older than that
/// are answered "expired").
public struct DeliveryLifetimes: Sendable, Equatable {
    /// How long a snapshot can be read after a newer version replaced one of its items.
    public var snapshotSeconds: Double
    /// How long a withdrawal is kept for cursors older than it.
    public var cursorSeconds: Double
    public init(snapshotSeconds: Double = 86_400, cursorSeconds: Double = 400 * 86_400) {
        (self.snapshotSeconds, self.cursorSeconds) = (snapshotSeconds, cursorSeconds)
    }
}

/// What a maintenance step of the index did.
public struct DeliveryMaintenance: Sendable, Equatable {
    /// People whose deliveries were recomputed.
    public var people = 0
    /// Versions written.
    public var versions = 0
    /// Whether the whole index was rebuilt (the rules changed).
    public var rebuilt = false
    /// Versions removed by compaction.
    public var compacted = 0
    /// Whether the index moved to a new day (the daily step ran).
    public var newDay = false
    public init() {}
}

/// The index's algorithms, shared by every store: the stores read and write rows, this decides.
public enum DeliveryIndex {
    /// The versions to write so that a person's live versions become `desired` (items of streams
    /// by their store number): a line for every item new or changed, a withdrawal for every live
    /// item no longer desired. Lines are compared by their digests. Items come out in a stable
    /// order (stream, item).
    public static func writes(live: [LiveDelivery], desired: [DesiredDelivery]) -> [DeliveryWrite] {
        var current: [DeliverySlot: LiveDelivery] = [:]
        for row in live { current[row.slot] = row }
        var out: [DeliveryWrite] = []
        var wanted = Set<DeliverySlot>()
        for d in desired.sorted(by: { $0.stream != $1.stream ? $0.stream < $1.stream : $0.item.lexicographicallyPrecedes($1.item) }) {
            let slot = DeliverySlot(stream: d.stream, item: d.item)
            guard wanted.insert(slot).inserted else { continue }
            let old = current[slot]
            if old?.digest != d.digest { out.append(DeliveryWrite(stream: d.stream, item: d.item, line: d.line, digest: d.digest, replaces: old)) }
        }
        for row in live.sorted(by: { $0.stream != $1.stream ? $0.stream < $1.stream : $0.item.lexicographicallyPrecedes($1.item) })
        where row.digest != nil && !wanted.contains(row.slot) {
            out.append(DeliveryWrite(stream: row.stream, item: row.item, line: nil, digest: nil, replaces: row))
        }
        return out
    }

    /// A person's live versions once `writes` are written (their numbers not known yet): each
    /// written item's new version replaces its old one; the other live versions stay.
    public static func live(_ live: [LiveDelivery], after writes: [DeliveryWrite]) -> [LiveDelivery] {
        guard !writes.isEmpty else { return live }
        let written = Set(writes.map { DeliverySlot(stream: $0.stream, item: $0.item) })
        return live.filter { !written.contains($0.slot) }
            + writes.map { LiveDelivery(stream: $0.stream, item: $0.item, seq: nil, digest: $0.digest) }
    }

    /// The digest by which two versions of an item's line are compared: 16 bytes of BLAKE2b.
    public static func digest(of line: String) -> [UInt8] { GenericHash.hash(Array(line.utf8), outputLength: 16) }

    /// A calendar day as the integer `YYYYMMDD` the stores keep.
    public static func dayNumber(_ day: CalendarDate) -> Int64 { Int64(day.year * 10_000 + day.month * 100 + day.day) }

    /// The calendar day of a stored `YYYYMMDD`.
    public static func day(_ number: Int64) -> CalendarDate? {
        CalendarDate(year: Int(number / 10_000), month: Int(number / 100 % 100), day: Int(number % 100))
    }
}
