import Foundation
import GRDB
import GRDBSQLite
import Pseudonymisation
import Records
import VangnetCore

extension SQLiteStore {
    /// Brings the delivery index up to date for `day` under `rules`: rebuilt whole if the rules
    /// changed, otherwise the people whose deliveries the calendar changes by `day` recomputed; and
    /// versions past their lifetime compacted. Cheap when there is nothing to do.
    @discardableResult
    package func maintainDeliveries(
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date
    ) async throws -> DeliveryMaintenance {
        let done = try await pool.write { db in
            var index = try SQLiteDeliveryIndex(
                db: db,
                rules: rules,
                day: day,
                now: now,
                lifetimes: self.lifetimes,
                scratch: self.scratchDirectory,
                sortMemory: self.sortMemory
            )
            return try index.bringUpToDate()
        }
        // Once a day the log file is cut back, where that does not make a commit wait.
        if done.newDay { checkpointer.cutBack() }
        return done
    }

    /// Reads one page of a stream and the index's head, in one transaction.
    package func readDeliveries(_ read: DeliveryRead) async throws -> DeliveryReadResult {
        try await pool.read { db in
            let state = try Row.fetchOne(db, sql: "SELECT seq, snapshot_horizon, cursor_horizon FROM delivery_state")!
            let head: Int64 = state["seq"]
            let stream: DeliveryStream
            switch read {
            case .picture(let s, _, _, _), .changes(let s, _, _): stream = s
            }
            var rows = DeliveryRows.Builder()
            if let id = try Int64.fetchOne(
                db,
                sql: "SELECT id FROM streams WHERE region = ? AND purpose = ?",
                arguments: [stream.region.value, stream.purpose.value]
            ) {
                let statement: Statement
                switch read {
                case .picture(_, let snapshot, let after, let limit):
                    let at = snapshot ?? head
                    statement = try db.cachedStatement(
                        sql: """
                            SELECT seq, item, line FROM deliveries
                            WHERE stream = ? AND item > ? AND seq <= ? AND line IS NOT NULL AND (superseded IS NULL OR superseded > ?)
                            ORDER BY item LIMIT ?
                            """
                    )
                    statement.setUncheckedArguments([id, Data(after ?? []), at, at, limit])
                case .changes(_, let after, let limit):
                    statement = try db.cachedStatement(
                        sql: """
                            SELECT seq, item, line FROM deliveries INDEXED BY deliveries_changes
                            WHERE stream = ? AND seq > ? AND superseded IS NULL ORDER BY seq LIMIT ?
                            """
                    )
                    statement.setUncheckedArguments([id, after, limit])
                }
                let s = statement.sqliteStatement
                while true {
                    let status = sqlite3_step(s)
                    if status == SQLITE_DONE { break }
                    guard status == SQLITE_ROW else {
                        throw DatabaseError(
                            resultCode: ResultCode(rawValue: status),
                            message: "reading deliveries failed"
                        )
                    }
                    let item = UnsafeRawBufferPointer(
                        start: sqlite3_column_blob(s, 1),
                        count: Int(sqlite3_column_bytes(s, 1))
                    )
                    let line =
                        sqlite3_column_type(s, 2) == SQLITE_NULL
                        ? nil
                        : UnsafeRawBufferPointer(
                            start: sqlite3_column_text(s, 2),
                            count: Int(sqlite3_column_bytes(s, 2))
                        )
                    rows.append(seq: sqlite3_column_int64(s, 0), item: item, line: line)
                }
                sqlite3_reset(s)
            }
            return DeliveryReadResult(
                found: rows.finish(),
                head: head,
                snapshotHorizon: state["snapshot_horizon"],
                cursorHorizon: state["cursor_horizon"]
            )
        }
    }

    /// The day the index was last brought up to date for, and the rules it follows.
    package func deliveryState() throws -> (day: CalendarDate?, rules: String?, head: Int64) {
        try pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT seq, day, rules FROM delivery_state")!
            return ((row["day"] as Int64?).flatMap(DeliveryIndex.day), row["rules"], row["seq"])
        }
    }
}

/// The delivery index inside one write transaction of a ``SQLiteStore``: people marked dirty by
/// the transaction are recomputed with the rules (``DeliveryIndex``) and their versions written.
struct SQLiteDeliveryIndex {
    let db: Database
    let rules: any DeliveryRules
    let day: CalendarDate
    let now: Date
    let lifetimes: DeliveryLifetimes
    /// The records the deliveries are computed from.
    let current: CurrentTable
    private var seq: Int64
    private var streams: [DeliveryStream: Int64] = [:]
    /// The streams of the purposes that allow re-identification, by number.
    private var reidentifyingStreams = Set<Int64>()
    private var completeAt: [String: Date] = [:]
    private var maintenance = DeliveryMaintenance()
    /// The versions computed since the last ``flush()``, sorted by (stream, item) on their way.
    private var pending: SortedRuns

    /// A commit's versions beyond `sortMemory` bytes wait in sorted runs of a scratch file in `scratch`.
    init(
        db: Database,
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date,
        lifetimes: DeliveryLifetimes,
        scratch: String,
        sortMemory: Int
    ) throws {
        (self.db, self.rules, self.day, self.now, self.lifetimes) = (db, rules, day, now, lifetimes)
        current = try CurrentTable(db)
        seq = try Int64.fetchOne(db, sql: "SELECT seq FROM delivery_state") ?? 0
        pending = SortedRuns(directory: scratch, memoryLimit: sortMemory)
        try db.execute(
            sql: "CREATE TEMP TABLE IF NOT EXISTS dirty (person BLOB PRIMARY KEY) WITHOUT ROWID; DELETE FROM temp.dirty"
        )
        for row in try Row.fetchAll(db, sql: "SELECT id, region, purpose FROM streams") {
            let stream = DeliveryStream(
                region: RegionNumber(row["region"] as Int)!,
                purpose: PurposeID(row["purpose"] as String)
            )
            streams[stream] = row["id"]
            if rules.reidentifying.contains(stream.purpose) { reidentifyingStreams.insert(row["id"]) }
        }
    }

    static func completeTimes(_ db: Database) throws -> [String: Date] {
        var out: [String: Date] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT source, dataset, complete_at FROM pictures") {
            out[(row["source"] as String) + "\u{0}" + (row["dataset"] as String)] = Date(
                timeIntervalSince1970: row["complete_at"]
            )
        }
        return out
    }

    static func currentRecord(_ row: Row, completeAt: [String: Date]) -> CurrentRecord {
        StoredCurrent(
            key: RecordKey(storedBytes: Array(row["key"] as Data)),
            epoch: UInt32(row["epoch"] as Int64),
            source: row["source"],
            dataset: row["dataset"],
            region: row["region"],
            fields: row["fields"],
            changedAt: row["changed_at"]
        )
        .record(of: Array(row["person"] as Data), completeAt: completeAt)
    }

    /// Rebuilds the index if the rules changed, or moves it to `day`; compacts on a new day.
    mutating func bringUpToDate() throws -> DeliveryMaintenance {
        let state = try Row.fetchOne(db, sql: "SELECT day, rules FROM delivery_state")!
        let dayNumber = DeliveryIndex.dayNumber(day)
        let stateDay: Int64? = state["day"]
        if state["rules"] as String? != rules.version {
            maintenance.rebuilt = true
            completeAt = try Self.completeTimes(db)
            // Who each pseudonym is follows the rules too: written again for everyone below.
            try db.execute(sql: "DELETE FROM subjects")
            let people = try SQLiteStatement(db, "SELECT person FROM current GROUP BY person")
            people.bind()
            try recomputePeople { try people.step() ? people.blob(0) : nil }
            // People with live versions and no records any more.
            let orphans = try Data.fetchAll(
                db,
                sql: """
                    SELECT person FROM people p WHERE live IS NOT NULL AND NOT \(CurrentTable.hasRecords("p.person"))
                    """
            )
            var next = orphans.makeIterator()
            try recomputePeople { next.next().map(Array.init) }
        } else if stateDay.map({ $0 < dayNumber }) ?? true {
            maintenance.newDay = true
            completeAt = try Self.completeTimes(db)
            while true {
                let due = try Data.fetchAll(
                    db,
                    sql: "SELECT person FROM people WHERE recheck <= ? ORDER BY recheck LIMIT 1000",
                    arguments: [dayNumber]
                )
                if due.isEmpty { break }
                var next = due.makeIterator()
                try recomputePeople { next.next().map(Array.init) }
            }
            try flush()
            try compact()
        } else {
            return maintenance
        }
        try flush()
        try db.execute(
            sql: "UPDATE delivery_state SET seq = ?, day = ?, rules = ?",
            arguments: [seq, max(dayNumber, stateDay ?? 0), rules.version]
        )
        return maintenance
    }

    mutating func markDirty(_ person: [UInt8]) throws {
        try SQLiteStatement(db, "INSERT OR IGNORE INTO temp.dirty VALUES (?)").run(.blob(person))
    }

    /// Recomputes the people `next` yields, each once, with their records as they stand in this
    /// transaction (a commit yields a person right after applying their lines), and writes the
    /// versions.
    mutating func refresh(_ next: () throws -> (person: [UInt8], records: [StoredCurrent])?) throws {
        completeAt = try Self.completeTimes(db)
        let db = self.db
        try recompute(rows: { try next().map { try Self.rows(of: $0.person, records: $0.records, in: db) } })
        try flush()
        try db.execute(sql: "UPDATE delivery_state SET seq = ?", arguments: [seq])
    }

    /// Recomputes every person marked dirty (read as a stream: an initial load marks millions).
    mutating func refreshDirty() throws {
        completeAt = try Self.completeTimes(db)
        let dirty = try SQLiteStatement(db, "SELECT person FROM temp.dirty")
        dirty.bind()
        try recomputePeople { try dirty.step() ? dirty.blob(0) : nil }
        try db.execute(sql: "DELETE FROM temp.dirty")
        try flush()
        try db.execute(sql: "UPDATE delivery_state SET seq = ?", arguments: [seq])
    }

    private mutating func streamID(_ stream: DeliveryStream) throws -> Int64 {
        if let id = streams[stream] { return id }
        try db.execute(
            sql: "INSERT INTO streams (region, purpose) VALUES (?, ?)",
            arguments: [stream.region.value, stream.purpose.value]
        )
        let id = db.lastInsertedRowID
        streams[stream] = id
        if rules.reidentifying.contains(stream.purpose) { reidentifyingStreams.insert(id) }
        return id
    }

    /// Recomputes the deliveries of every person `next` names (each once), from their records as stored.
    private mutating func recomputePeople(_ next: () throws -> [UInt8]?) throws {
        let (db, current) = (self.db, self.current)
        try recompute(rows: { try next().map { try Self.rows(of: $0, records: current.records(of: $0), in: db) } })
    }

    /// Recomputes the deliveries of every person `next` yields (each once) and writes what
    /// changed. In groups of 256 people, on two threads: while the rules run for one group on a
    /// thread of their own (decoding the records, evaluating every purpose, hashing identifiers
    /// and pseudonyms, making the lines), this transaction's thread reads (or applies) the next
    /// group and writes the one before. The groups are independent: each person's rows are read
    /// and written by their group alone. Returns when every group is written.
    private mutating func recompute(rows next: () throws -> PersonRows?) throws {
        var inFlight: RulesRun?
        var exhausted = false
        while !exhausted {
            var group: [PersonRows] = []
            while group.count < 256, let rows = try next() { group.append(rows) }
            exhausted = group.count < 256
            let run = group.isEmpty ? nil : RulesRun(group, rules: rules, day: day, completeAt: completeAt)
            if let previous = inFlight { try write(previous.outcomes()) }
            inFlight = run
        }
        if let last = inFlight { try write(last.outcomes()) }
    }

    /// A person's current records (fields still as stored) and live versions, and whether the
    /// person has a row in `people`.
    struct PersonRows: Sendable {
        let person: [UInt8]
        let records: [StoredCurrent]
        let live: [LiveDelivery]
        let known: Bool
    }

    struct StoredCurrent: Sendable {
        let key: RecordKey, epoch: UInt32, source: String, dataset: String, region: Int, fields: String,
            changedAt: Double

        /// The record, confirmed by its version's commit or a later complete picture of its dataset.
        func record(of person: [UInt8], completeAt: [String: Date]) -> CurrentRecord {
            let changed = Date(timeIntervalSince1970: changedAt)
            let picture = completeAt[source + "\u{0}" + dataset]
            return CurrentRecord(
                key: key,
                dataset: DatasetID(dataset),
                person: InternalPseudonym(storedBytes: person, epoch: epoch),
                region: RegionNumber(region)!,
                fields: FlatJSON.decodeFields(fields),
                confirmedAt: max(changed, picture ?? changed)
            )
        }
    }

    /// What the rules decided for a person: every item delivered (with its line's digest), and
    /// the day to look again.
    struct Outcome: Sendable {
        let rows: PersonRows
        let items: [(item: DeliveryItem, digest: [UInt8])]
        let recheck: CalendarDate?
    }

    /// One group's rules, run on a thread of their own.
    final class RulesRun: @unchecked Sendable {
        // Written by the run before `done` is signalled, read after waiting for it.
        private var result: [Outcome] = []
        private let done = DispatchSemaphore(value: 0)

        init(_ group: [PersonRows], rules: any DeliveryRules, day: CalendarDate, completeAt: [String: Date]) {
            DispatchQueue.global(qos: .userInitiated).async {
                self.result = group.map { rows in
                    guard !rows.records.isEmpty else { return Outcome(rows: rows, items: [], recheck: nil) }
                    let records = rows.records.map { $0.record(of: rows.person, completeAt: completeAt) }
                    let (items, recheck) = rules.deliveries(of: records, on: day)
                    return Outcome(
                        rows: rows,
                        items: items.map { ($0, DeliveryIndex.digest(of: $0.line)) },
                        recheck: recheck
                    )
                }
                self.done.signal()
            }
        }

        func outcomes() -> [Outcome] {
            done.wait()
            return result
        }
    }

    /// `records` with the person's live versions, and whether the person has a row in `people`.
    private static func rows(of person: [UInt8], records: [StoredCurrent], in db: Database) throws -> PersonRows {
        let known = try SQLiteStatement(db, "SELECT live FROM people WHERE person = ?")
        known.bind(.blob(person))
        guard try known.step() else { return PersonRows(person: person, records: records, live: [], known: false) }
        let live = known.isNull(0) ? [] : try known.withBlob(0) { try LivePacking.unpack($0) }
        return PersonRows(person: person, records: records, live: live, known: true)
    }

    /// Writes a group's new versions (into ``pending``, for ``flush()``) and each person's row in
    /// `people`: the day to look again and the live versions. A person needs a row only while
    /// either is there (people no population reaches, with no recheck due, have none).
    private mutating func write(_ outcomes: [Outcome]) throws {
        let forget = try SQLiteStatement(db, "DELETE FROM people WHERE person = ?")
        let remember = try SQLiteStatement(db, "INSERT OR REPLACE INTO people (person, recheck, live) VALUES (?, ?, ?)")
        let forgetSubjects = try SQLiteStatement(db, "DELETE FROM subjects WHERE person = ?")
        let rememberSubject = try SQLiteStatement(
            db,
            "INSERT OR REPLACE INTO subjects (stream, pseudonym, person) VALUES (?, ?, ?)"
        )
        for outcome in outcomes {
            let person = outcome.rows.person
            maintenance.people += 1
            var desired: [DesiredDelivery] = []
            for (item, digest) in outcome.items {
                desired.append(
                    DesiredDelivery(stream: try streamID(item.stream), item: item.item, line: item.line, digest: digest)
                )
            }
            if DeliveryIndex.subjectsChange(
                live: outcome.rows.live,
                items: outcome.items.map(\.item),
                reidentifyingStreams: reidentifyingStreams
            ) {
                try forgetSubjects.run(.blob(person))
                var seen = Set<String>()
                for item in outcome.items.map(\.item) {
                    // One row per pseudonym: a person's items in a stream name the same one (one per key epoch).
                    guard let subject = item.subject, seen.insert("\(item.stream)/\(subject)").inserted else {
                        continue
                    }
                    try rememberSubject.run(.int(try streamID(item.stream)), .text(subject), .blob(person))
                }
            }
            let writes = DeliveryIndex.writes(live: outcome.rows.live, desired: desired)
            for write in writes { try pending.append(write, of: person) }
            maintenance.versions += writes.count
            let live = DeliveryIndex.live(outcome.rows.live, after: writes)
            // A recheck is always a later day, so the daily step ends.
            let next =
                outcome.rows.records.isEmpty
                ? nil : outcome.recheck.map { max(DeliveryIndex.dayNumber($0), DeliveryIndex.dayNumber(day) + 1) }
            if next == nil && live.isEmpty {
                if outcome.rows.known { try forget.run(.blob(person)) }
            } else {
                try remember.run(
                    .blob(person),
                    next.map { .int($0) } ?? .null,
                    live.isEmpty ? .null : .blob(LivePacking.pack(live))
                )
            }
        }
    }

    /// Writes the versions computed since the last flush into the index, numbered in the order of
    /// its primary key (stream, item): so both the table and its index of changes (stream, seq)
    /// are written in order. Item digests are random, so written as computed (in person order) a
    /// large commit would touch the table's pages at random, each many times once the table is
    /// larger than the page cache. A commit's versions may be numbered in any order, as a reader
    /// sees all of them or none; a version supersedes its item's live one (the newest, found by
    /// the item). Every person is recomputed at most once between flushes, so no item has two
    /// pending versions.
    private mutating func flush() throws {
        guard pending.count > 0 else { return }
        let at = now.timeIntervalSince1970
        let end = try SQLiteStatement(
            db,
            "UPDATE deliveries SET superseded = ?, superseded_at = ? WHERE stream = ? AND item = ? AND superseded IS NULL"
        )
        let insert = try SQLiteStatement(
            db,
            "INSERT INTO deliveries (stream, item, seq, line, person, at) VALUES (?, ?, ?, ?, ?, ?)"
        ).s
        var versions = try pending.merged()
        pending = SortedRuns(directory: pending.directory, memoryLimit: pending.memoryLimit)
        while try versions.next() {
            seq += 1
            let seq = self.seq
            // The row's values bound in place (valid inside `withEntry`).
            let status = try versions.withEntry { key, payload in
                let v = PendingVersion(key: key, payload: payload)
                if v.replaces { try end.run(.int(seq), .double(at), .int(v.stream), .blob(Array(v.item))) }
                sqlite3_bind_int64(insert, 1, v.stream)
                sqlite3_bind_blob(insert, 2, v.item.baseAddress, Int32(v.item.count), nil)
                sqlite3_bind_int64(insert, 3, seq)
                if let line = v.line {
                    // A line is never empty; an empty text would still be bound as text.
                    _ =
                        line.baseAddress.map {
                            sqlite3_bind_text(insert, 4, $0.assumingMemoryBound(to: CChar.self), Int32(line.count), nil)
                        }
                        ?? sqlite3_bind_text(insert, 4, "", 0, nil)
                } else {
                    sqlite3_bind_null(insert, 4)
                }
                sqlite3_bind_blob(insert, 5, v.person.baseAddress, Int32(v.person.count), nil)
                sqlite3_bind_double(insert, 6, at)
                defer { sqlite3_reset(insert) }
                return sqlite3_step(insert)
            }
            guard status == SQLITE_DONE else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: status),
                    message: "writing the delivery index failed"
                )
            }
        }
    }

    /// Removes superseded versions older than a snapshot's lifetime and withdrawals older than a
    /// cursor's, raising the horizons below which snapshots and cursors are expired.
    private mutating func compact() throws {
        let at = now.timeIntervalSince1970
        // Superseded versions: only snapshots older than their successor need them.
        try compact(
            where: "superseded IS NOT NULL AND superseded_at < ?",
            before: at - lifetimes.snapshotSeconds,
            horizon: "superseded",
            raising: "snapshot_horizon"
        )
        // Withdrawals: only changes cursors older than them need them (and their people's rows
        // hold them as live until then).
        let withdrawals = "line IS NULL AND superseded IS NULL AND at < ?"
        try forgetWithdrawals(where: withdrawals, before: at - lifetimes.cursorSeconds)
        try compact(where: withdrawals, before: at - lifetimes.cursorSeconds, horizon: "seq", raising: "cursor_horizon")
    }

    private mutating func compact(
        where condition: String,
        before cutoff: Double,
        horizon column: String,
        raising state: String
    ) throws {
        guard
            let horizon = try Int64.fetchOne(
                db,
                sql: "SELECT MAX(\(column)) FROM deliveries WHERE \(condition)",
                arguments: [cutoff]
            )
        else { return }
        try db.execute(sql: "DELETE FROM deliveries WHERE \(condition)", arguments: [cutoff])
        maintenance.compacted += db.changesCount
        try db.execute(sql: "UPDATE delivery_state SET \(state) = MAX(\(state), ?)", arguments: [horizon])
    }

    /// Takes the withdrawals about to be compacted out of their people's live versions (a
    /// withdrawal is live until its item is delivered again), and forgets people left with
    /// neither live versions nor records.
    private func forgetWithdrawals(where condition: String, before cutoff: Double) throws {
        var gone: [[UInt8]: Set<DeliverySlot>] = [:]
        let rows = try SQLiteStatement(db, "SELECT person, stream, item FROM deliveries WHERE \(condition)")
        rows.bind(.double(cutoff))
        while try rows.step() {
            gone[rows.blob(0), default: []].insert(DeliverySlot(stream: rows.int(1), item: rows.blob(2)))
        }
        let held = try SQLiteStatement(
            db,
            "SELECT live, recheck, \(CurrentTable.hasRecords("?1")) FROM people WHERE person = ?1"
        )
        let update = try SQLiteStatement(db, "UPDATE people SET live = ? WHERE person = ?")
        let forget = try SQLiteStatement(db, "DELETE FROM people WHERE person = ?")
        for (person, slots) in gone {
            held.bind(.blob(person))
            guard try held.step() else { continue }
            let live = try (held.isNull(0) ? [] : held.withBlob(0) { try LivePacking.unpack($0) }).filter {
                $0.digest != nil || !slots.contains($0.slot)
            }
            if live.isEmpty && held.isNull(1) && held.int(2) == 0 {
                try forget.run(.blob(person))
            } else {
                try update.run(live.isEmpty ? .null : .blob(LivePacking.pack(live)), .blob(person))
            }
        }
    }
}

/// A person's live versions as one blob in their `people` row (the index has no second B-tree by
/// person): per version, the stream (8 bytes, little-endian), the item's length and bytes, the
/// digest's length (0: a withdrawal) and bytes. The version's number is not kept: the live version
/// of an item is its newest, not superseded.
enum LivePacking {
    static func pack(_ live: [LiveDelivery]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(live.count * 50)
        for version in live {
            withUnsafeBytes(of: version.stream.littleEndian) { out.append(contentsOf: $0) }
            out.append(UInt8(version.item.count))
            out.append(contentsOf: version.item)
            out.append(UInt8(version.digest?.count ?? 0))
            out.append(contentsOf: version.digest ?? [])
        }
        return out
    }

    static func unpack(_ bytes: UnsafeRawBufferPointer) throws -> [LiveDelivery] {
        var out: [LiveDelivery] = []
        var at = 0
        func take(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n <= bytes.count - at else {
                throw StoreError("a person's live versions are damaged (\(bytes.count) bytes)")
            }
            defer { at += n }
            return UnsafeRawBufferPointer(rebasing: bytes[at..<at + n])
        }
        func int() throws -> Int64 { Int64(littleEndian: try take(8).loadUnaligned(as: Int64.self)) }
        while at < bytes.count {
            let stream = try int()
            let item = Array(try take(Int(try take(1)[0])))
            let digest = Array(try take(Int(try take(1)[0])))
            out.append(LiveDelivery(stream: stream, item: item, seq: nil, digest: digest.isEmpty ? nil : digest))
        }
        return out
    }
}

/// A version waiting in ``SQLiteDeliveryIndex``'s sorted runs: its key is the stream (8 bytes,
/// big-endian) and the item; its payload whether it replaces a live version (1 byte), the person
/// (length, bytes) and the line (absent for a withdrawal: the payload ends after the person).
private struct PendingVersion {
    let stream: Int64
    let item: UnsafeRawBufferPointer
    let replaces: Bool
    let person: UnsafeRawBufferPointer
    let line: UnsafeRawBufferPointer?

    init(key: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) {
        stream = Int64(bigEndian: key.loadUnaligned(as: Int64.self))
        item = UnsafeRawBufferPointer(rebasing: key[8...])
        replaces = payload[0] == 1
        let personLength = Int(payload[1])
        person = UnsafeRawBufferPointer(rebasing: payload[2..<2 + personLength])
        line =
            payload.count > 2 + personLength
            ? UnsafeRawBufferPointer(rebasing: payload[(2 + personLength + 1)...]) : nil
    }
}

extension SortedRuns {
    /// Adds a version of `person`'s for the index (``PendingVersion``).
    fileprivate func append(_ write: DeliveryWrite, of person: [UInt8]) throws {
        try append(
            key: { out in
                withUnsafeBytes(of: write.stream.bigEndian) { out.append(contentsOf: $0) }
                out.append(contentsOf: write.item)
            },
            payload: { out in
                out.append(write.replaces == nil ? 0 : 1)
                out.append(UInt8(person.count))
                out.append(contentsOf: person)
                if let line = write.line {
                    // A marker byte, so that an empty line is still told from a withdrawal.
                    out.append(1)
                    out.append(contentsOf: line.utf8)
                }
            }
        )
    }
}
