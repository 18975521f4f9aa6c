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
    public func maintainDeliveries(rules: any DeliveryRules, day: CalendarDate, now: Date) async throws -> DeliveryMaintenance {
        try await pool.write { db in
            var index = try SQLiteDeliveryIndex(db: db, rules: rules, day: day, now: now, lifetimes: self.lifetimes)
            return try index.bringUpToDate()
        }
    }

    /// Reads one page of a stream and the index's head, in one transaction.
    public func readDeliveries(_ read: DeliveryRead) async throws -> DeliveryReadResult {
        try await pool.read { db in
            let state = try Row.fetchOne(db, sql: "SELECT seq, snapshot_horizon, cursor_horizon FROM delivery_state")!
            let head: Int64 = state["seq"]
            let stream: DeliveryStream
            switch read {
            case .picture(let s, _, _, _), .changes(let s, _, _): stream = s
            }
            var rows: [DeliveryRow] = []
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM streams WHERE region = ? AND purpose = ?", arguments: [stream.region.value, stream.purpose.value]) {
                let statement: Statement
                switch read {
                case .picture(_, let snapshot, let after, let limit):
                    let at = snapshot ?? head
                    statement = try db.cachedStatement(sql: """
                        SELECT seq, item, line FROM deliveries
                        WHERE stream = ? AND item > ? AND seq <= ? AND line IS NOT NULL AND (superseded IS NULL OR superseded > ?)
                        ORDER BY item LIMIT ?
                        """)
                    statement.setUncheckedArguments([id, Data(after ?? []), at, at, limit])
                case .changes(_, let after, let limit):
                    statement = try db.cachedStatement(sql: """
                        SELECT seq, item, line FROM deliveries INDEXED BY deliveries_changes
                        WHERE stream = ? AND seq > ? AND superseded IS NULL ORDER BY seq LIMIT ?
                        """)
                    statement.setUncheckedArguments([id, after, limit])
                }
                let s = statement.sqliteStatement
                while true {
                    let status = sqlite3_step(s)
                    if status == SQLITE_DONE { break }
                    guard status == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: status), message: "reading deliveries failed") }
                    let item = Array(UnsafeRawBufferPointer(start: sqlite3_column_blob(s, 1), count: Int(sqlite3_column_bytes(s, 1))))
                    var line: String?
                    if sqlite3_column_type(s, 2) != SQLITE_NULL, let text = sqlite3_column_text(s, 2) {
                        line = String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(s, 2))), as: UTF8.self)
                    }
                    rows.append(DeliveryRow(seq: sqlite3_column_int64(s, 0), item: item, line: line))
                }
                sqlite3_reset(s)
            }
            return DeliveryReadResult(rows: rows, head: head, snapshotHorizon: state["snapshot_horizon"], cursorHorizon: state["cursor_horizon"])
        }
    }

    /// The day the index was last brought up to date for, and the rules it follows.
    public func deliveryState() throws -> (day: CalendarDate?, rules: String?, head: Int64) {
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
    private var seq: Int64
    private var streams: [DeliveryStream: Int64] = [:]
    private var completeAt: [String: Date] = [:]
    private var maintenance = DeliveryMaintenance()

    init(db: Database, rules: any DeliveryRules, day: CalendarDate, now: Date, lifetimes: DeliveryLifetimes) throws {
        (self.db, self.rules, self.day, self.now, self.lifetimes) = (db, rules, day, now, lifetimes)
        seq = try Int64.fetchOne(db, sql: "SELECT seq FROM delivery_state") ?? 0
        try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS dirty (person BLOB PRIMARY KEY) WITHOUT ROWID; DELETE FROM temp.dirty")
        for row in try Row.fetchAll(db, sql: "SELECT id, region, purpose FROM streams") {
            streams[DeliveryStream(region: RegionNumber(row["region"] as Int)!, purpose: PurposeID(row["purpose"] as String))] = row["id"]
        }
    }

    static func completeTimes(_ db: Database) throws -> [String: Date] {
        var out: [String: Date] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT source, dataset, complete_at FROM pictures") {
            out[(row["source"] as String) + "\u{0}" + (row["dataset"] as String)] = Date(timeIntervalSince1970: row["complete_at"])
        }
        return out
    }

    static func currentRecord(_ row: Row, completeAt: [String: Date]) -> CurrentRecord {
        let changed = Date(timeIntervalSince1970: row["changed_at"])
        let picture = completeAt[(row["source"] as String) + "\u{0}" + (row["dataset"] as String)]
        return CurrentRecord(key: RecordKey(storedBytes: Array(row["key"] as Data)), dataset: DatasetID(row["dataset"] as String),
                             person: InternalPseudonym(storedBytes: Array(row["person"] as Data), epoch: UInt32(row["epoch"] as Int64)),
                             region: RegionNumber(row["region"] as Int)!, fields: FlatJSON.decodeFields(row["fields"]),
                             confirmedAt: max(changed, picture ?? changed))
    }

    /// Rebuilds the index if the rules changed, or moves it to `day`; compacts on a new day.
    mutating func bringUpToDate() throws -> DeliveryMaintenance {
        let state = try Row.fetchOne(db, sql: "SELECT day, rules FROM delivery_state")!
        let dayNumber = DeliveryIndex.dayNumber(day)
        let stateDay: Int64? = state["day"]
        if state["rules"] as String? != rules.version {
            maintenance.rebuilt = true
            completeAt = try Self.completeTimes(db)
            let people = try SQLiteStatement(db, "SELECT DISTINCT person FROM current")
            people.bind()
            while try people.step() { try refresh(person: people.blob(0)) }
            let orphans = try Data.fetchAll(db, sql: """
                SELECT DISTINCT person FROM deliveries WHERE superseded IS NULL AND line IS NOT NULL AND person NOT IN (SELECT person FROM current)
                """)
            for person in orphans { try refresh(person: person) }
        } else if stateDay.map({ $0 < dayNumber }) ?? true {
            completeAt = try Self.completeTimes(db)
            while true {
                let due = try Data.fetchAll(db, sql: "SELECT person FROM people WHERE recheck <= ? ORDER BY recheck LIMIT 1000", arguments: [dayNumber])
                if due.isEmpty { break }
                for person in due { try refresh(person: person) }
            }
            try compact()
        } else {
            return maintenance
        }
        try db.execute(sql: "UPDATE delivery_state SET seq = ?, day = ?, rules = ?", arguments: [seq, max(dayNumber, stateDay ?? 0), rules.version])
        return maintenance
    }

    mutating func markDirty(_ person: [UInt8]) throws {
        try SQLiteStatement(db, "INSERT OR IGNORE INTO temp.dirty VALUES (?)").run(.blob(person))
    }

    /// Recomputes every person marked dirty (read as a stream: an initial load marks millions).
    mutating func refreshDirty() throws {
        completeAt = try Self.completeTimes(db)
        let dirty = try SQLiteStatement(db, "SELECT person FROM temp.dirty")
        dirty.bind()
        while try dirty.step() { try refresh(person: dirty.blob(0)) }
        try db.execute(sql: "DELETE FROM temp.dirty")
        try db.execute(sql: "UPDATE delivery_state SET seq = ?", arguments: [seq])
    }

    private mutating func streamID(_ stream: DeliveryStream) throws -> Int64 {
        if let id = streams[stream] { return id }
        try db.execute(sql: "INSERT INTO streams (region, purpose) VALUES (?, ?)", arguments: [stream.region.value, stream.purpose.value])
        let id = db.lastInsertedRowID
        streams[stream] = id
        return id
    }

    /// Recomputes one person's deliveries and writes what changed.
    private mutating func refresh(person: Data) throws { try refresh(person: Array(person)) }

    private mutating func refresh(person: [UInt8]) throws {
        maintenance.people += 1
        let held = try SQLiteStatement(db, "SELECT key, epoch, source, dataset, region, fields, changed_at FROM current WHERE person = ?")
        held.bind(.blob(person))
        var records: [CurrentRecord] = []
        while try held.step() {
            let changed = Date(timeIntervalSince1970: held.double(6))
            let source = held.text(2) ?? "", dataset = held.text(3) ?? ""
            let picture = completeAt[source + "\u{0}" + dataset]
            records.append(CurrentRecord(key: held.withBlob(0) { RecordKey(storedBytes: $0) }, dataset: DatasetID(dataset),
                                         person: InternalPseudonym(storedBytes: person, epoch: UInt32(held.int(1))),
                                         region: RegionNumber(Int(held.int(4)))!, fields: FlatJSON.decodeFields(held.text(5) ?? "{}"),
                                         confirmedAt: max(changed, picture ?? changed)))
        }
        var desired: [(stream: Int64, item: [UInt8], line: String)] = []
        if records.isEmpty {
            try SQLiteStatement(db, "DELETE FROM people WHERE person = ?").run(.blob(person))
        } else {
            let (items, recheck) = rules.deliveries(of: records, on: day)
            for item in items { desired.append((try streamID(item.stream), item.item, item.line)) }
            // A recheck is always a later day, so the daily step ends.
            let next = recheck.map { max(DeliveryIndex.dayNumber($0), DeliveryIndex.dayNumber(day) + 1) }
            try SQLiteStatement(db, "INSERT OR REPLACE INTO people (person, recheck) VALUES (?, ?)").run(.blob(person), next.map { .int($0) } ?? .null)
        }
        let liveRows = try SQLiteStatement(db, "SELECT stream, item, seq, line FROM deliveries WHERE person = ? AND superseded IS NULL")
        liveRows.bind(.blob(person))
        var live: [LiveDelivery] = []
        while try liveRows.step() {
            live.append(LiveDelivery(stream: liveRows.int(0), item: liveRows.blob(1), seq: liveRows.int(2), line: liveRows.text(3)))
        }
        guard !(desired.isEmpty && live.isEmpty) else { return }
        let writes = DeliveryIndex.writes(live: live, desired: desired)
        guard !writes.isEmpty else { return }
        let end = try SQLiteStatement(db, "UPDATE deliveries SET superseded = ?, superseded_at = ? WHERE stream = ? AND item = ? AND seq = ?")
        let insert = try SQLiteStatement(db, "INSERT INTO deliveries (stream, item, seq, line, person, at) VALUES (?, ?, ?, ?, ?, ?)")
        let at = now.timeIntervalSince1970
        for write in writes {
            seq += 1
            if let old = write.supersedes { try end.run(.int(seq), .double(at), .int(write.stream), .blob(write.item), .int(old)) }
            try insert.run(.int(write.stream), .blob(write.item), .int(seq), write.line.map { .text($0) } ?? .null, .blob(person), .double(at))
        }
        maintenance.versions += writes.count
    }

    /// Removes superseded versions older than a snapshot's lifetime and withdrawals older than a
    /// cursor's, raising the horizons below which snapshots and cursors are expired.
    private mutating func compact() throws {
        let at = now.timeIntervalSince1970
        // Superseded versions: only snapshots older than their successor need them.
        try compact(where: "superseded IS NOT NULL AND superseded_at < ?", before: at - lifetimes.snapshotSeconds,
                    horizon: "superseded", raising: "snapshot_horizon")
        // Withdrawals: only changes cursors older than them need them.
        try compact(where: "line IS NULL AND superseded IS NULL AND at < ?", before: at - lifetimes.cursorSeconds,
                    horizon: "seq", raising: "cursor_horizon")
    }

    private mutating func compact(where condition: String, before cutoff: Double, horizon column: String, raising state: String) throws {
        guard let horizon = try Int64.fetchOne(db, sql: "SELECT MAX(\(column)) FROM deliveries WHERE \(condition)", arguments: [cutoff]) else { return }
        try db.execute(sql: "DELETE FROM deliveries WHERE \(condition)", arguments: [cutoff])
        maintenance.compacted += db.changesCount
        try db.execute(sql: "UPDATE delivery_state SET \(state) = MAX(\(state), ?)", arguments: [horizon])
    }
}
