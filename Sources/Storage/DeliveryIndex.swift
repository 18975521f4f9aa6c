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
package enum StagedLine: Sendable {
    case record(RoutedRecord)
    case withdrawal(PseudonymisedWithdrawal)
}

/// A record as it stands now: the current version of one record (the newest a source sent for its
/// key, not withdrawn).
package struct CurrentRecord: Sendable {
    package let key: RecordKey
    package let dataset: DatasetID
    package let person: InternalPseudonym
    package let region: RegionNumber
    package let fields: [String: FieldValue]
    /// When the source last stated this record: the commit of its version, or of a later
    /// complete picture of its dataset (which held it, or it would have been withdrawn).
    package let confirmedAt: Date

    package init(
        key: RecordKey,
        dataset: DatasetID,
        person: InternalPseudonym,
        region: RegionNumber,
        fields: [String: FieldValue],
        confirmedAt: Date
    ) {
        (self.key, self.dataset, self.person, self.region, self.fields, self.confirmedAt) = (
            key, dataset, person, region, fields, confirmedAt
        )
    }
}

/// What one region receives for one purpose.
package struct DeliveryStream: Sendable, Hashable, Comparable, CustomStringConvertible {
    package let region: RegionNumber
    package let purpose: PurposeID
    package init(region: RegionNumber, purpose: PurposeID) { (self.region, self.purpose) = (region, purpose) }
    package static func < (a: Self, b: Self) -> Bool {
        (a.region.value, a.purpose.value) < (b.region.value, b.purpose.value)
    }
    package var description: String { "region \(region)/\(purpose)" }
}

/// A record as one stream delivers it.
package struct DeliveryItem: Sendable, Equatable {
    package let stream: DeliveryStream
    /// The 16 bytes naming the item within its stream (the digest of its delivered identifier).
    package let item: [UInt8]
    /// The record as delivered: one JSON object (identifier, pseudonym, dataset, the purpose's fields).
    package let line: String
    /// For a purpose that allows re-identification: the pseudonym under which the region may ask
    /// who the person is (the store keeps it in `subjects`, which leads from it to the person).
    package let subject: String?
    package init(stream: DeliveryStream, item: [UInt8], line: String, subject: String? = nil) {
        (self.stream, self.item, self.line, self.subject) = (stream, item, line, subject)
    }
}

/// The policy's part of delivery, handed to the store so that its index follows the policy: for
/// one person's current records on a day, what every region receives.
package protocol DeliveryRules: Sendable {
    /// Differs whenever ``deliveries(of:on:)`` could answer differently for the same records and
    /// day (another policy, another set of held key epochs): the store rebuilds its index then.
    var version: String { get }
    /// Every item delivered for a person with these current records (all of one person) on
    /// `day`, and the first later day on which the answer could change with no new records (an
    /// age or a month count rolling over, retention ending); `nil` if none.
    func deliveries(
        of records: [CurrentRecord],
        on day: CalendarDate
    ) -> (items: [DeliveryItem], recheck: CalendarDate?)
    /// The purposes whose items name their ``DeliveryItem/subject``: the store keeps, per stream
    /// of these, who each pseudonym it delivers is.
    var reidentifying: Set<PurposeID> { get }
}

extension DeliveryRules {
    package var reidentifying: Set<PurposeID> { [] }
}

/// The newest version of an item, as the index holds it.
package struct LiveDelivery: Sendable, Equatable {
    package let stream: Int64
    package let item: [UInt8]
    /// The version's number where the store reads it with the version (PostgreSQL); `nil` where
    /// the store finds an item's live version by the item (SQLite: the newest, not superseded).
    package let seq: Int64?
    /// The digest of the version's line (``DeliveryIndex/digest(of:)``); `nil`: the item was withdrawn.
    package let digest: [UInt8]?
    package init(stream: Int64, item: [UInt8], seq: Int64?, digest: [UInt8]?) {
        (self.stream, self.item, self.seq, self.digest) = (stream, item, seq, digest)
    }
    package var slot: DeliverySlot { DeliverySlot(stream: stream, item: item) }
}

/// An item in its stream: where its versions are.
package struct DeliverySlot: Sendable, Hashable {
    package let stream: Int64
    package let item: [UInt8]
    package init(stream: Int64, item: [UInt8]) { (self.stream, self.item) = (stream, item) }
}

/// An item the rules deliver now: its line and the line's digest.
package struct DesiredDelivery: Sendable, Equatable {
    package let stream: Int64
    package let item: [UInt8]
    package let line: String
    package let digest: [UInt8]
    package init(stream: Int64, item: [UInt8], line: String, digest: [UInt8]) {
        (self.stream, self.item, self.line, self.digest) = (stream, item, line, digest)
    }
}

/// A new version of an item: its line, or (`nil`) its withdrawal; superseding the live version
/// `replaces`, if there is one.
package struct DeliveryWrite: Sendable, Equatable {
    package let stream: Int64
    package let item: [UInt8]
    package let line: String?
    package let digest: [UInt8]?
    package let replaces: LiveDelivery?
    /// The number of the version superseded, where the store knows it.
    package var supersedes: Int64? { replaces?.seq }
}

/// A version read from a stream.
package struct DeliveryRow: Sendable, Equatable {
    package let seq: Int64
    package let item: [UInt8]
    /// `nil`: a withdrawal (only in changes).
    package let line: String?
    package init(seq: Int64, item: [UInt8], line: String?) { (self.seq, self.item, self.line) = (seq, item, line) }
}

/// What a pull reads.
package enum DeliveryRead: Sendable {
    /// The picture at `snapshot` (the newest if `nil`), items after `item` in item order.
    case picture(DeliveryStream, snapshot: Int64?, after: [UInt8]?, limit: Int)
    /// The live versions after `seq`, in order.
    case changes(DeliveryStream, after: Int64, limit: Int)
}

/// The versions a read found, in the read's order, with their identifiers and lines back to back
/// in one buffer: a page of 10,000 is a few allocations rather than two per row, and its lines go
/// into the response straight from the bytes the database gave.
package struct DeliveryRows: Sendable, RandomAccessCollection {
    /// Where one version's identifier and line sit in the buffer.
    package struct Entry: Sendable {
        package let seq: Int64
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
    package struct Builder {
        private var bytes: [UInt8] = [], entries: [Entry] = []
        package init(capacity: Int = 0) { entries.reserveCapacity(capacity) }

        /// `line` `nil`: a withdrawal.
        package mutating func append(seq: Int64, item: UnsafeRawBufferPointer, line: UnsafeRawBufferPointer?) {
            entries.append(
                Entry(
                    seq: seq,
                    start: bytes.count,
                    itemCount: Int32(item.count),
                    lineCount: line.map { Int32($0.count) } ?? -1
                )
            )
            bytes.append(contentsOf: item)
            if let line { bytes.append(contentsOf: line) }
        }

        package func finish() -> DeliveryRows { DeliveryRows(storage: Storage(bytes), entries: entries) }
    }

    private init(storage: Storage, entries: [Entry]) { (self.storage, self.entries) = (storage, entries) }

    package var startIndex: Int { 0 }
    package var endIndex: Int { entries.count }
    package subscript(position: Int) -> Entry { entries[position] }

    /// The 16 bytes of an identifier.
    package func item(_ entry: Entry) -> ArraySlice<UInt8> {
        storage.bytes[entry.start..<entry.start + Int(entry.itemCount)]
    }

    /// The record's line (a JSON object), or `nil` for a withdrawal.
    package func line(_ entry: Entry) -> ArraySlice<UInt8>? {
        guard entry.lineCount >= 0 else { return nil }
        let start = entry.start + Int(entry.itemCount)
        return storage.bytes[start..<start + Int(entry.lineCount)]
    }

    /// The length of ``line(_:)`` in bytes; `nil` for a withdrawal.
    package func lineCount(_ entry: Entry) -> Int? { entry.lineCount >= 0 ? Int(entry.lineCount) : nil }

    /// The first `n` rows.
    package mutating func keepFirst(_ n: Int) { if entries.count > n { entries.removeLast(entries.count - n) } }

    /// Orders the rows by identifier.
    package mutating func sortByItem() {
        let bytes = storage.bytes
        entries.sort { a, b in
            bytes[a.start..<a.start + Int(a.itemCount)].lexicographicallyPrecedes(
                bytes[b.start..<b.start + Int(b.itemCount)]
            )
        }
    }

    /// Each row as a value of its own.
    package var rows: [DeliveryRow] {
        entries.map { entry in
            DeliveryRow(
                seq: entry.seq,
                item: Array(item(entry)),
                line: line(entry).map { String(decoding: $0, as: UTF8.self) }
            )
        }
    }
}

/// The answer to a ``DeliveryRead``, read in one transaction.
package struct DeliveryReadResult: Sendable {
    package let found: DeliveryRows
    /// ``found``, each row as a value of its own.
    package var rows: [DeliveryRow] { found.rows }
    /// The newest version number when the rows were read (a new snapshot is taken here).
    package let head: Int64
    /// A snapshot older than this can no longer be read whole.
    package let snapshotHorizon: Int64
    /// A changes cursor older than this may have missed withdrawals.
    package let cursorHorizon: Int64
    package init(found: DeliveryRows, head: Int64, snapshotHorizon: Int64, cursorHorizon: Int64) {
        (self.found, self.head, self.snapshotHorizon, self.cursorHorizon) = (
            found, head, snapshotHorizon, cursorHorizon
        )
    }
}

/// What a commit changed in the current records.
package struct CommitSummary: Sendable, Equatable {
    package var added = 0
    package var changed = 0
    package var unchanged = 0
    package var withdrawn = 0
    /// Withdrawals of records that did not exist.
    package var withdrawnUnknown = 0
    package init() {}
}

/// How long superseded versions and withdrawals are kept (snapshots and cursors older than that
/// are answered "expired").
package struct DeliveryLifetimes: Sendable, Equatable {
    /// How long a snapshot can be read after a newer version replaced one of its items.
    package var snapshotSeconds: Double
    /// How long a withdrawal is kept for cursors older than it.
    package var cursorSeconds: Double
    package init(snapshotSeconds: Double = 86_400, cursorSeconds: Double = 400 * 86_400) {
        (self.snapshotSeconds, self.cursorSeconds) = (snapshotSeconds, cursorSeconds)
    }
}

/// What a maintenance step of the index did.
package struct DeliveryMaintenance: Sendable, Equatable {
    /// People whose deliveries were recomputed.
    package var people = 0
    /// Versions written.
    package var versions = 0
    /// Whether the whole index was rebuilt (the rules changed).
    package var rebuilt = false
    /// Versions removed by compaction.
    package var compacted = 0
    /// Whether the index moved to a new day (the daily step ran).
    package var newDay = false
    package init() {}
}

/// The index's algorithms, shared by every store: the stores read and write rows, this decides.
package enum DeliveryIndex {
    /// The versions to write so that a person's live versions become `desired` (items of streams
    /// by their store number): a line for every item new or changed, a withdrawal for every live
    /// item no longer desired. Lines are compared by their digests. Items come out in a stable
    /// order (stream, item).
    package static func writes(live: [LiveDelivery], desired: [DesiredDelivery]) -> [DeliveryWrite] {
        var current: [DeliverySlot: LiveDelivery] = [:]
        for row in live { current[row.slot] = row }
        var out: [DeliveryWrite] = []
        var wanted = Set<DeliverySlot>()
        for d in desired.sorted(by: {
            $0.stream != $1.stream ? $0.stream < $1.stream : $0.item.lexicographicallyPrecedes($1.item)
        }) {
            let slot = DeliverySlot(stream: d.stream, item: d.item)
            guard wanted.insert(slot).inserted else { continue }
            let old = current[slot]
            if old?.digest != d.digest {
                out.append(DeliveryWrite(stream: d.stream, item: d.item, line: d.line, digest: d.digest, replaces: old))
            }
        }
        for row in live.sorted(by: {
            $0.stream != $1.stream ? $0.stream < $1.stream : $0.item.lexicographicallyPrecedes($1.item)
        })
        where row.digest != nil && !wanted.contains(row.slot) {
            out.append(DeliveryWrite(stream: row.stream, item: row.item, line: nil, digest: nil, replaces: row))
        }
        return out
    }

    /// Whether a person's subjects must be written again: they had a live line in a stream of a
    /// re-identifying purpose, or now have an item naming its subject.
    package static func subjectsChange(
        live: [LiveDelivery],
        items: [DeliveryItem],
        reidentifyingStreams: Set<Int64>
    ) -> Bool {
        items.contains { $0.subject != nil }
            || live.contains { $0.digest != nil && reidentifyingStreams.contains($0.stream) }
    }

    /// A person's live versions once `writes` are written (their numbers not known yet): each
    /// written item's new version replaces its old one; the other live versions stay.
    package static func live(_ live: [LiveDelivery], after writes: [DeliveryWrite]) -> [LiveDelivery] {
        guard !writes.isEmpty else { return live }
        let written = Set(writes.map { DeliverySlot(stream: $0.stream, item: $0.item) })
        return live.filter { !written.contains($0.slot) }
            + writes.map { LiveDelivery(stream: $0.stream, item: $0.item, seq: nil, digest: $0.digest) }
    }

    /// The digest by which two versions of an item's line are compared: 16 bytes of BLAKE2b.
    package static func digest(of line: String) -> [UInt8] { GenericHash.hash(Array(line.utf8), outputLength: 16) }

    /// A calendar day as the integer `YYYYMMDD` the stores keep.
    package static func dayNumber(_ day: CalendarDate) -> Int64 { Int64(day.year * 10_000 + day.month * 100 + day.day) }

    /// The calendar day of a stored `YYYYMMDD`.
    package static func day(_ number: Int64) -> CalendarDate? {
        CalendarDate(year: Int(number / 10_000), month: Int(number / 100 % 100), day: Int(number % 100))
    }
}
