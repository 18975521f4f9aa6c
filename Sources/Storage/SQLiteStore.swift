import AuditLog
import BatchEnvelope
import Foundation
import GRDB
import Pseudonymisation
import Records
import VangnetCore
import VangnetCrypto

/// The embedded store: one SQLite database in WAL mode holding batches, records and the audit log.
///
/// Invariants:
/// - a batch, its records, its receipt and its audit entry are committed in one transaction, or
///   none of them is;
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
                    source TEXT NOT NULL,
                    batch_id TEXT NOT NULL,
                    dataset TEXT NOT NULL,
                    envelope_hash BLOB NOT NULL,
                    accepted INTEGER NOT NULL,
                    rejected INTEGER NOT NULL,
                    receipt TEXT NOT NULL,
                    committed_at REAL NOT NULL,
                    PRIMARY KEY (source, batch_id)
                );
                CREATE TABLE records (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    batch_id TEXT NOT NULL,
                    dataset TEXT NOT NULL,
                    line INTEGER NOT NULL,
                    person BLOB NOT NULL,
                    epoch INTEGER NOT NULL,
                    municipality TEXT NOT NULL,
                    region INTEGER NOT NULL,
                    fields TEXT NOT NULL
                );
                CREATE INDEX records_region_dataset ON records (region, dataset, id);
                CREATE INDEX records_person ON records (person);
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

    /// Commits a verified batch with its records, receipt and audit event, in one transaction.
    ///
    /// A batch id already committed by the same source gives `.duplicate` (same envelope hash)
    /// or `.conflict` (different bytes), and changes nothing.
    public func commit(
        batch: OpenedBatch, records: [RoutedRecord], accepted: Int, rejected: Int,
        receipt: SignedReceiptJSON, audit: AuditEvent
    ) throws -> BatchCommitOutcome {
        let header = batch.header
        return try pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT envelope_hash, receipt FROM batches WHERE source = ? AND batch_id = ?",
                                          arguments: [header.source.value, header.batchId.description]) {
                let hash: Data = row["envelope_hash"]
                return Array(hash) == batch.envelopeHash ? .duplicate(row["receipt"]) : .conflict
            }
            try db.execute(sql: """
                INSERT INTO batches (source, batch_id, dataset, envelope_hash, accepted, rejected, receipt, committed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [header.source.value, header.batchId.description, header.dataset.value, Data(batch.envelopeHash),
                                 accepted, rejected, receipt, audit.time.timeIntervalSince1970])
            let insert = try db.cachedStatement(sql: """
                INSERT INTO records (source, batch_id, dataset, line, person, epoch, municipality, region, fields)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let source = header.source.value, batchID = header.batchId.description
            for routed in records {
                let r = routed.record
                try insert.execute(arguments: [source, batchID, r.dataset.value, r.line, Data(r.person.bytes), Int64(r.person.epoch),
                                               r.municipality.value, routed.region.value, FieldCoding.encode(r.fields)])
            }
            try Self.append(audit, in: db)
            return .committed(receipt)
        }
    }

    /// The receipt and envelope hash of a committed batch, if there is one.
    public func committedBatch(source: OIN, batchId: BatchID) throws -> (envelopeHash: [UInt8], receipt: SignedReceiptJSON)? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT envelope_hash, receipt FROM batches WHERE source = ? AND batch_id = ?",
                             arguments: [source.value, batchId.description])
                .map { (Array($0["envelope_hash"] as Data), $0["receipt"]) }
        }
    }

    /// Number of committed batches and records (for summaries and tests).
    public func counts() throws -> (batches: Int, records: Int) {
        try pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM batches") ?? 0, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records") ?? 0)
        }
    }

    // MARK: Delivery

    /// Calls `body` for every record of `dataset` in `region` (to build a population).
    public func forEachRecord(dataset: DatasetID, region: RegionNumber, _ body: (StoredRecord) throws -> Void) throws {
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, dataset, person, epoch, region, fields FROM records WHERE region = ? AND dataset = ? ORDER BY id
                """, arguments: [region.value, dataset.value])
            while let row = try rows.next() { try body(Self.storedRecord(row)) }
        }
    }

    /// Records with `id > cursor` in order, of the given datasets, offered to `accept` until it
    /// has taken `limit` or the store ends.
    public func scanRecords(after cursor: Int64, datasets: [DatasetID], limit: Int, accept: (StoredRecord) -> Bool) throws -> [StoredRecord] {
        try pool.read { db in
            let placeholders = datasets.map { _ in "?" }.joined(separator: ",")
            var arguments: StatementArguments = [cursor]
            arguments += StatementArguments(datasets.map(\.value))
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, dataset, person, epoch, region, fields FROM records WHERE id > ? AND dataset IN (\(placeholders)) ORDER BY id
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
            id: row["id"],
            dataset: DatasetID(row["dataset"] as String),
            person: InternalPseudonym(storedBytes: Array(row["person"] as Data), epoch: UInt32(row["epoch"] as Int64)),
            region: RegionNumber(row["region"] as Int)!,
            fields: FieldCoding.decode(row["fields"])
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

    /// Writes the WAL back into the main database file.
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}
