import AuditLog
import BatchEnvelope
import Foundation
import GRDB
import GRDBSQLite
import Pseudonymisation
import Records
import VangnetCore
import VangnetCrypto

/// The embedded store: one SQLite database in WAL mode holding batches, records and the audit log.
///
/// Invariants:
/// - a batch's records are staged while its envelope streams in, invisible to readers; the batch
///   becomes visible, with its receipt and audit entry, in one transaction, or never (a staging
///   area left by a crash is dropped at the next start);
/// - every audit entry is appended inside the transaction of the action it describes, so a failed
///   audit write rolls the action back (fail closed);
/// - no BSN is ever written: the types that reach this store have none.
public final class SQLiteStore: Sendable {
    private let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // 64 MiB of page cache per connection: large batches insert into big indexes.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Checkpoint every ~40 MiB of WAL rather than 4 MiB: pages rewritten during an ingest
            // (index and interior pages) are copied to the database once instead of many times.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 10000")
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE batches (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    batch_id TEXT NOT NULL,
                    dataset TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('staging', 'committed')),
                    epoch INTEGER NOT NULL, -- the pseudonym key epoch of every record of the batch
                    started_at REAL NOT NULL,
                    commit_seq INTEGER UNIQUE,
                    envelope_hash BLOB,
                    accepted INTEGER,
                    rejected INTEGER,
                    receipt TEXT,
                    committed_at REAL
                );
                CREATE UNIQUE INDEX batches_committed ON batches (source, batch_id) WHERE state = 'committed';
                -- Clustered by (batch, region, line): a region's records of a batch are one range
                -- (so a population needs no second index), and a batch's records are written at
                -- 40 append points. Dataset and key epoch are the batch's.
                CREATE TABLE records (
                    batch INTEGER NOT NULL, -- batches.seq; no REFERENCES: checked on every insert, and staging owns the link
                    region INTEGER NOT NULL,
                    line INTEGER NOT NULL,
                    person BLOB NOT NULL,
                    fields TEXT NOT NULL, -- the record without the BSN (municipality included), flat JSON
                    PRIMARY KEY (batch, region, line)
                ) WITHOUT ROWID;
                CREATE TABLE audit (
                    seq INTEGER PRIMARY KEY,
                    time REAL NOT NULL,
                    actor TEXT,
                    action TEXT NOT NULL,
                    event BLOB NOT NULL,
                    prev_hash BLOB NOT NULL,
                    hash BLOB NOT NULL
                );
                """)
        }
        return migrator
    }

    // MARK: Batches

    /// Opens a staging area for a batch whose header was admitted. Its records are invisible to
    /// every reader until ``commit(stage:batch:accepted:rejected:receipt:audit:)``.
    /// All its records are pseudonymised under key `epoch`.
    public func beginStaging(source: OIN, batchId: BatchID, dataset: DatasetID, epoch: UInt32, at time: Date) async throws -> StagingID {
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO batches (source, batch_id, dataset, state, epoch, started_at) VALUES (?, ?, ?, 'staging', ?, ?)",
                           arguments: [source.value, batchId.description, dataset.value, epoch, time.timeIntervalSince1970])
            return StagingID(seq: db.lastInsertedRowID)
        }
    }

    /// Adds records to a staging area, in one short transaction.
    public func stage(_ records: [RoutedRecord], into stage: StagingID) async throws {
        guard !records.isEmpty else { return }
        // Staged rows need no fsync of their own: a crash loses only an uncommitted batch, and the
        // commit transaction (synchronous FULL) syncs the WAL, earlier frames included, before a
        // receipt is given.
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
            try db.inTransaction { try Self.insert(records, into: stage, in: db); return .commit }
        }
    }

    private static func insert(_ records: [RoutedRecord], into stage: StagingID, in db: Database) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO records (batch, region, line, person, fields) VALUES (?, ?, ?, ?, ?)")
        // Bound with the C API: this loop is the writer's whole job during an ingest, and
        // binding through GRDB's argument arrays cost a third of it. SQLITE_STATIC (nil) is
        // safe because every buffer outlives the step.
        let statement = insert.sqliteStatement
        for routed in records {
            let r = routed.record
            var fields = r.storedFields
            let status = fields.withUTF8 { f in
                r.person.bytes.withUnsafeBytes { p in
                    sqlite3_bind_int64(statement, 1, stage.seq)
                    sqlite3_bind_int64(statement, 2, Int64(routed.region.value))
                    sqlite3_bind_int64(statement, 3, Int64(r.line))
                    sqlite3_bind_blob(statement, 4, p.baseAddress, Int32(p.count), nil)
                    sqlite3_bind_text(statement, 5, UnsafeRawPointer(f.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(f.count), nil)
                    defer { sqlite3_reset(statement) }
                    return sqlite3_step(statement)
                }
            }
            guard status == SQLITE_DONE else { throw DatabaseError(resultCode: ResultCode(rawValue: status), message: "staging insert failed") }
        }
    }

    /// Drops a staging area and everything in it (the batch was refused or failed).
    public func discard(_ stage: StagingID) async throws {
        try await pool.write { db in try Self.discard(stage.seq, in: db) }
    }

    private static func discard(_ seq: Int64, in db: Database) throws {
        try db.execute(sql: "DELETE FROM records WHERE batch = ?", arguments: [seq])
        try db.execute(sql: "DELETE FROM batches WHERE seq = ? AND state = 'staging'", arguments: [seq])
    }

    /// Makes a staged batch visible, with its receipt and audit event, in one transaction.
    ///
    /// If the same source already committed this batch id, the staged records are dropped and
    /// the outcome is `.duplicate` (same envelope hash: the first receipt) or `.conflict`.
    public func commit(stage: StagingID, batch: OpenedBatch, accepted: Int, rejected: Int,
                       receipt: SignedReceiptJSON, audit: AuditEvent) async throws -> BatchCommitOutcome {
        let header = batch.header
        return try await pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT envelope_hash, receipt FROM batches WHERE source = ? AND batch_id = ? AND state = 'committed'",
                                          arguments: [header.source.value, header.batchId.description]) {
                try Self.discard(stage.seq, in: db)
                let hash: Data = row["envelope_hash"]
                return Array(hash) == batch.envelopeHash ? .duplicate(row["receipt"]) : .conflict
            }
            let commitSeq = (try Int64.fetchOne(db, sql: "SELECT MAX(commit_seq) FROM batches") ?? 0) + 1
            try db.execute(sql: """
                UPDATE batches SET state = 'committed', commit_seq = ?, envelope_hash = ?, accepted = ?, rejected = ?, receipt = ?, committed_at = ?
                WHERE seq = ? AND state = 'staging'
                """, arguments: [commitSeq, Data(batch.envelopeHash), accepted, rejected, receipt, audit.time.timeIntervalSince1970, stage.seq])
            guard db.changesCount == 1 else { throw StoreError("staging area \(stage.seq) is gone (discarded by a restart?)") }
            try Self.append(audit, in: db)
            return .committed(receipt)
        }
    }

    /// The receipt and envelope hash of a committed batch, if there is one.
    public func committedBatch(source: OIN, batchId: BatchID) throws -> (envelopeHash: [UInt8], receipt: SignedReceiptJSON)? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT envelope_hash, receipt FROM batches WHERE source = ? AND batch_id = ? AND state = 'committed'",
                             arguments: [source.value, batchId.description])
                .map { (Array($0["envelope_hash"] as Data), $0["receipt"]) }
        }
    }

    /// Drops every staging area left by a process that stopped mid-batch. Call at start, before
    /// serving, with no other gateway instance using this database.
    /// - Returns: how many interrupted batches were dropped.
    @discardableResult
    public func discardInterruptedBatches() throws -> Int {
        try pool.write { db in
            let stale = try Int64.fetchAll(db, sql: "SELECT seq FROM batches WHERE state = 'staging'")
            for seq in stale { try Self.discard(seq, in: db) }
            return stale.count
        }
    }

    /// Number of committed batches and of their records (for summaries and tests).
    public func counts() throws -> (batches: Int, records: Int) {
        try pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM batches WHERE state = 'committed'") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records r JOIN batches b ON b.seq = r.batch WHERE b.state = 'committed'") ?? 0)
        }
    }

    /// Rows in the records table, committed or staged (for crash tests).
    public func storedRecordRows() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records") ?? 0 }
    }

    /// Per committed batch: its id and number of records, for consistency checks.
    public func committedBatches() throws -> [(source: OIN, batchId: BatchID, accepted: Int, records: Int)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT b.source, b.batch_id, b.accepted, (SELECT COUNT(*) FROM records r WHERE r.batch = b.seq) AS n
                FROM batches b WHERE b.state = 'committed' ORDER BY b.commit_seq
                """).map { (OIN($0["source"])!, BatchID($0["batch_id"] as String)!, $0["accepted"], $0["n"]) }
        }
    }

    // MARK: Delivery

    /// Calls `body` for every committed record of `dataset` in `region` (to build a population).
    public func forEachRecord(dataset: DatasetID, region: RegionNumber, _ body: (StoredRecord) throws -> Void) throws {
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT r.line, b.commit_seq, b.dataset, r.person, b.epoch, r.region, r.fields
                FROM batches b JOIN records r ON r.batch = b.seq AND r.region = ?
                WHERE b.dataset = ? AND b.state = 'committed'
                """, arguments: [region.value, dataset.value])
            while let row = try rows.next() { try body(Self.storedRecord(row)) }
        }
    }

    /// Committed records after `cursor`, in delivery order (batches in commit order, records in
    /// region and line order), of the given datasets, offered to `accept` until it has taken `limit`.
    public func scanRecords(after cursor: DeliveryCursor, datasets: [DatasetID], limit: Int, accept: (StoredRecord) -> Bool) throws -> [StoredRecord] {
        try pool.read { db in
            let placeholders = datasets.map { _ in "?" }.joined(separator: ",")
            var arguments: StatementArguments = [cursor.batch, cursor.batch, cursor.region, cursor.record]
            arguments += StatementArguments(datasets.map(\.value))
            let rows = try Row.fetchCursor(db, sql: """
                SELECT r.line, b.commit_seq, b.dataset, r.person, b.epoch, r.region, r.fields
                FROM batches b JOIN records r ON r.batch = b.seq
                WHERE b.state = 'committed' AND b.commit_seq >= ? AND (b.commit_seq > ? OR (r.region, r.line) > (?, ?)) AND b.dataset IN (\(placeholders))
                ORDER BY b.commit_seq, r.region, r.line
                """, arguments: arguments)
            var page: [StoredRecord] = []
            while page.count < limit, let row = try rows.next() {
                let record = Self.storedRecord(row)
                if accept(record) { page.append(record) }
            }
            return page
        }
    }

    private static func storedRecord(_ row: Row) -> StoredRecord {
        StoredRecord(
            cursor: DeliveryCursor(batch: row["commit_seq"], region: row["region"], record: row["line"]),
            dataset: DatasetID(row["dataset"] as String),
            person: InternalPseudonym(storedBytes: Array(row["person"] as Data), epoch: UInt32(row["epoch"] as Int64)),
            region: RegionNumber(row["region"] as Int)!,
            fields: FlatJSON.decodeFields(row["fields"])
        )
    }

    // MARK: Audit

    /// Appends an event to the audit chain in its own transaction.
    public func appendAudit(_ event: AuditEvent) throws {
        try pool.write { db in try Self.append(event, in: db) }
    }

    static func append(_ event: AuditEvent, in db: Database) throws {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        let sequence: Int64 = (last?["seq"] ?? 0) + 1
        let previous = last.map { Array($0["hash"] as Data) } ?? AuditChain.genesis
        let record = AuditChain.link(event, sequence: sequence, previous: previous)
        try db.execute(sql: "INSERT INTO audit (seq, time, actor, action, event, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [sequence, event.time.timeIntervalSince1970, event.actor?.value, event.action.rawValue,
                                   Data(AuditChain.canonicalBytes(event)), Data(record.previousHash), Data(record.hash)])
    }

    /// Recomputes the whole audit chain as stored.
    public func verifyAudit() throws -> AuditVerdict {
        try pool.read { db in
            var verifier = AuditVerifier()
            let rows = try Row.fetchCursor(db, sql: "SELECT seq, event, prev_hash, hash FROM audit ORDER BY seq")
            while let row = try rows.next() {
                verifier.check(sequence: row["seq"], canonicalEvent: Array(row["event"] as Data),
                               previousHash: Array(row["prev_hash"] as Data), hash: Array(row["hash"] as Data))
            }
            return verifier.verdict()
        }
    }

    /// All audit events in order (for summaries, export and tests).
    public func auditEvents() throws -> [AuditEvent] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT event FROM audit ORDER BY seq").map { try AuditChain.decode(Array($0)) }
        }
    }

    /// Runs a raw statement. For tests that must corrupt the store on purpose.
    /// - Warning: bypasses every invariant of this type.
    public func uncheckedExecute(_ sql: String) throws {
        try pool.write { db in try db.execute(sql: sql) }
    }
}
