import AuditLog
import BatchEnvelope
import Foundation
import GRDB
import GRDBSQLite
import Pseudonymisation
import Records
import Synchronization
import VangnetCore
import VangnetCrypto

/// The embedded store: one SQLite database in WAL mode holding batches, records and the audit log.
///
/// Invariants:
/// - a batch's records are staged while its envelope streams in, outside the database (in sorted
///   runs of a scratch file sealed under a key only the process holds, ``StagingArea``), invisible
///   to readers; the batch becomes visible, with its receipt and audit entry, in one transaction,
///   or never (a crash leaves no staged line: its batch's row is dropped at the next start);
/// - every audit entry is appended inside the transaction of the action it describes, so a failed
///   audit write rolls the action back (fail closed);
/// - no BSN is ever written: the types that reach this store have none.
package final class SQLiteStore: Sendable {
    let pool: DatabasePool
    let lifetimes: DeliveryLifetimes
    /// Appends of concurrent callers, committed together.
    private let auditGroups: AuditGroupCommit
    /// Copies the log into the database in the background, and cuts it back once a day.
    let checkpointer: WALCheckpointer
    private let auditSigning: AuditSigning?
    /// The batches being received, by their row in `batches`.
    private let stagingAreas = Mutex<[Int64: StagingArea]>([:])
    /// Where scratch files are made: the database's directory.
    let scratchDirectory: String
    /// Bytes of new versions a commit holds in memory before it sorts them into a scratch file.
    let sortMemory: Int

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// With `auditSigning`, every `every`-th audit entry gets a checkpoint signed in the same
    /// transaction.
    ///
    /// The database holds pseudonymised records and person link hashes: it is created owner-only
    /// (0600, in a directory made 0700), and SQLite gives its `-wal` and `-shm` files the
    /// database's mode. A database, WAL or shared-memory file that its group or others may read is
    /// refused (``StoreFileError``), as key files are.
    ///
    /// `readOnly` opens an existing database as evidence: no migration, no write, and nothing
    /// appended (`vangnet audit verify --database` checks a copy without changing it).
    ///
    /// The log is copied into the database in the background (``WALCheckpointer``) once it holds
    /// more than `checkpointPages` pages.
    ///
    /// A commit sorts its new versions into the index's order holding at most `sortMemory` bytes
    /// of them in memory; beyond, in sorted runs of a scratch file beside the database
    /// (``SortedRuns``).
    package init(
        path: String,
        auditSigning: AuditSigning? = nil,
        readOnly: Bool = false,
        lifetimes: DeliveryLifetimes = DeliveryLifetimes(),
        checkpointPages: Int32 = 10_000,
        sortMemory: Int = 16 << 20
    ) throws {
        self.sortMemory = sortMemory
        self.auditSigning = auditSigning
        let checkpointer = WALCheckpointer(path: path, pages: checkpointPages)
        self.checkpointer = checkpointer
        self.lifetimes = lifetimes
        scratchDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try StoreFiles.prepare(path, create: !readOnly)
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            guard !readOnly else { return }
            if db.configuration.readonly {
                // A reader of the pool serves index ranges: 8 MiB of cache each (the system's page
                // cache holds the rest), so the gateway's memory does not grow with the number of
                // pulls at once.
                try db.execute(sql: "PRAGMA cache_size = -8192")
                return
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // 64 MiB of page cache per connection: large batches insert into big indexes.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Checkpoints in the background, every ~40 MiB of log rather than SQLite's 4 MiB: pages
            // rewritten during an ingest (index and interior pages) are copied once, not many
            // times. The log file keeps the largest size it reached (it is written again from its
            // start) until the daily step cuts it back (``WALCheckpointer/cutBack()``): a size
            // limit makes SQLite cut it inside the first commit after a checkpoint, and cutting the
            // gigabytes a large batch leaves held that commit, and every pull waiting to audit
            // behind it, for half a second (`vangnet bench pull`: the first page of 32 regions at
            // p50 467 ms, 34 ms without).
            checkpointer.install(on: db)
            try db.execute(sql: "PRAGMA journal_size_limit = -1")
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        auditGroups = AuditGroupCommit { [pool] events, done in
            // On the writer's queue, after whatever it is writing; no task waits on it.
            pool.asyncWriteWithoutTransaction { db in
                done(
                    Result {
                        try db.inTransaction {
                            try Self.append(events, signing: auditSigning, in: db)
                            return .commit
                        }
                    }
                )
            }
        }
        if !readOnly { try Self.migrator.migrate(pool) }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
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
                    """
            )
        }
        migrator.registerMigration("v2 audit columns and checkpoints") { db in
            try db.execute(
                sql: """
                    ALTER TABLE audit ADD COLUMN role TEXT;
                    ALTER TABLE audit ADD COLUMN outcome TEXT;
                    ALTER TABLE audit ADD COLUMN region INTEGER;
                    CREATE INDEX audit_actor ON audit (actor);
                    CREATE INDEX audit_region ON audit (region) WHERE region IS NOT NULL;
                    CREATE TABLE audit_checkpoints (
                        seq INTEGER PRIMARY KEY, -- the audit entry whose hash is signed
                        time INTEGER NOT NULL,   -- milliseconds since 1970
                        hash TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        signature TEXT NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v3 retention") { db in
            try db.execute(sql: "ALTER TABLE batches ADD COLUMN purged_at REAL")
        }
        migrator.registerMigration("v4 audit entry signatures") { db in
            // Each entry's own Ed25519 signature by the audit key over its chain hash.
            try db.execute(sql: "ALTER TABLE audit ADD COLUMN signature BLOB")
        }
        migrator.registerMigration("v5 records with identity and the delivery index") { db in
            try db.execute(
                sql: """
                    -- The lines of batches being received; fields NULL: a withdrawal.
                    CREATE TABLE staged (
                        stage INTEGER NOT NULL, line INTEGER NOT NULL, person BLOB NOT NULL, key BLOB NOT NULL,
                        region INTEGER, fields TEXT,
                        PRIMARY KEY (stage, line)
                    ) WITHOUT ROWID;
                    -- Every record as it stands: the newest version its source sent for its key. Clustered
                    -- by person, so that one person's records (all datasets) are one range.
                    CREATE TABLE current (
                        person BLOB NOT NULL, key BLOB NOT NULL, epoch INTEGER NOT NULL, source TEXT NOT NULL, dataset TEXT NOT NULL,
                        region INTEGER NOT NULL, fields TEXT NOT NULL,
                        batch INTEGER NOT NULL,   -- batches.commit_seq of the version
                        changed_at REAL NOT NULL, -- its commit time
                        PRIMARY KEY (person, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX current_by_dataset ON current (dataset, source);
                    -- The last complete picture per source and dataset: it confirms every record it held.
                    CREATE TABLE pictures (source TEXT NOT NULL, dataset TEXT NOT NULL, complete_at REAL NOT NULL, PRIMARY KEY (source, dataset));
                    -- Per person with records: the day their deliveries may change without new records.
                    CREATE TABLE people (person BLOB PRIMARY KEY, recheck INTEGER) WITHOUT ROWID;
                    CREATE INDEX people_recheck ON people (recheck) WHERE recheck IS NOT NULL;
                    CREATE TABLE streams (id INTEGER PRIMARY KEY, region INTEGER NOT NULL, purpose TEXT NOT NULL, UNIQUE (region, purpose));
                    -- Versions of delivered items (DeliveryIndex.swift). line NULL: a withdrawal.
                    CREATE TABLE deliveries (
                        stream INTEGER NOT NULL, item BLOB NOT NULL, seq INTEGER NOT NULL, line TEXT, person BLOB NOT NULL,
                        at REAL NOT NULL, superseded INTEGER, superseded_at REAL,
                        PRIMARY KEY (stream, item, seq)
                    ) WITHOUT ROWID;
                    CREATE INDEX deliveries_changes ON deliveries (stream, seq) WHERE superseded IS NULL;
                    CREATE INDEX deliveries_live ON deliveries (person) WHERE superseded IS NULL;
                    CREATE INDEX deliveries_superseded ON deliveries (superseded_at) WHERE superseded IS NOT NULL;
                    CREATE INDEX deliveries_withdrawals ON deliveries (at) WHERE line IS NULL AND superseded IS NULL;
                    CREATE TABLE delivery_state (
                        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, day INTEGER, rules TEXT,
                        snapshot_horizon INTEGER NOT NULL, cursor_horizon INTEGER NOT NULL);
                    INSERT INTO delivery_state VALUES (1, 0, NULL, NULL, 0, 0);
                    """
            )
            // Records stored before had no identity: each becomes the current version of its
            // record (a later batch's wins); the index is built at the first maintenance.
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT b.source, b.dataset, b.epoch, b.commit_seq, b.committed_at, r.region, r.person, r.fields
                    FROM records r JOIN batches b ON b.seq = r.batch WHERE b.state = 'committed' ORDER BY b.commit_seq, r.region, r.line
                    """
            )
            let insert = try db.makeStatement(sql: "INSERT OR REPLACE INTO current VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            while let row = try rows.next() {
                let dataset = DatasetID(row["dataset"] as String)
                guard let schema = DatasetSchema.defaults[dataset] else { continue }
                let fields: String = row["fields"]
                let person = InternalPseudonym(
                    storedBytes: Array(row["person"] as Data),
                    epoch: UInt32(row["epoch"] as Int64)
                )
                let key = RecordKey(
                    person: person,
                    dataset: dataset,
                    identity: schema.identity(of: FlatJSON.decodeFields(fields))
                )
                try insert.execute(arguments: [
                    Data(person.bytes), Data(key.bytes), row["epoch"], row["source"], dataset.value,
                    row["region"], fields, row["commit_seq"], row["committed_at"],
                ])
            }
            try db.execute(sql: "DROP TABLE records")
        }
        migrator.registerMigration("v6 live versions with the person") { db in
            // A person's live versions move from an index of `deliveries` by person (written at
            // random, one entry per version) into their `people` row (written in person order).
            try db.execute(sql: "ALTER TABLE people ADD COLUMN live BLOB")
            let rows = try SQLiteStatement(
                db,
                "SELECT person, stream, item, line FROM deliveries INDEXED BY deliveries_live WHERE superseded IS NULL ORDER BY person"
            )
            let save = try SQLiteStatement(
                db,
                "INSERT INTO people (person, recheck, live) VALUES (?, NULL, ?) ON CONFLICT (person) DO UPDATE SET live = excluded.live"
            )
            var person: [UInt8]?
            var live: [LiveDelivery] = []
            func flush() throws {
                if let person, !live.isEmpty { try save.run(.blob(person), .blob(LivePacking.pack(live))) }
                live = []
            }
            rows.bind()
            while try rows.step() {
                let next = rows.blob(0)
                if next != person {
                    try flush()
                    person = next
                }
                live.append(
                    LiveDelivery(
                        stream: rows.int(1),
                        item: rows.blob(2),
                        seq: nil,
                        digest: rows.text(3).map(DeliveryIndex.digest(of:))
                    )
                )
            }
            try flush()
            try db.execute(sql: "DROP INDEX deliveries_live")
        }
        migrator.registerMigration("v7 current by dataset and person") { db in try CurrentTable.migrate(db) }
        migrator.registerMigration("v8 staging outside the database") { db in
            // Staged lines now live in the process (``StagingArea``); a batch still staging here was
            // interrupted, and is dropped at the start as before.
            try db.execute(sql: "DROP TABLE staged")
        }
        migrator.registerMigration("v9 re-identification") { db in
            try db.execute(sql: ReidentificationTables.sqlite)
        }
        migrator.registerMigration("v10 collections") { db in try db.execute(sql: CollectionTables.sqlite) }
        return migrator
    }

    // MARK: Batches

    /// Opens a staging area for a batch whose header was admitted. Its lines are invisible to
    /// every reader until ``commit(stage:batch:accepted:rejected:receipt:complete:rules:day:audit:)``.
    /// All its records are pseudonymised under key `epoch`.
    package func beginStaging(
        source: OIN,
        batchId: BatchID,
        dataset: DatasetID,
        epoch: UInt32,
        at time: Date
    ) async throws -> StagingID {
        let stage = try await pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO batches (source, batch_id, dataset, state, epoch, started_at) VALUES (?, ?, ?, 'staging', ?, ?)",
                arguments: [source.value, batchId.description, dataset.value, epoch, time.timeIntervalSince1970]
            )
            return StagingID(seq: db.lastInsertedRowID)
        }
        stagingAreas.withLock { $0[stage.seq] = StagingArea(directory: scratchDirectory) }
        return stage
    }

    /// Adds lines to a staging area: sorted, and written as one run of its scratch file, on a
    /// thread of their own (no database connection is involved).
    package func stage(_ lines: [StagedLine], into stage: StagingID) async throws {
        guard !lines.isEmpty else { return }
        let area = try stagingArea(stage)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            SQLiteRecordStore.queue.async { continuation.resume(with: Result { try area.add(lines) }) }
        }
    }

    private func stagingArea(_ stage: StagingID) throws -> StagingArea {
        guard let area = stagingAreas.withLock({ $0[stage.seq] }) else {
            throw StoreError("staging area \(stage.seq) is gone (discarded, or opened by another process)")
        }
        return area
    }

    /// Drops a staging area and everything in it (the batch was refused or failed).
    package func discard(_ stage: StagingID) async throws {
        stagingAreas.withLock { $0[stage.seq] = nil }
        try await pool.write { db in try Self.discard(stage.seq, in: db) }
    }

    private static func discard(_ seq: Int64, in db: Database) throws {
        try db.execute(sql: "DELETE FROM batches WHERE seq = ? AND state = 'staging'", arguments: [seq])
    }

    /// Makes a staged batch the current state of its records, with its receipt and audit event,
    /// and brings the delivery index up to date (on `day`, under `rules`), in one transaction.
    ///
    /// A record line adds its record or replaces the one with its key (unchanged if equal); a
    /// withdrawal removes it. With `complete` (a complete picture: the keys of every record of the
    /// batch) the source's records of the dataset that are not in it are withdrawn. If the same
    /// source already committed this batch id, the staged lines are dropped and the outcome is
    /// `.duplicate` (same envelope hash: the first receipt) or `.conflict`.
    package func commit(
        stage: StagingID,
        batch: OpenedBatch,
        accepted: Int,
        rejected: Int,
        receipt: SignedReceiptJSON,
        complete: Set<RecordKey>?,
        rules: any DeliveryRules,
        day: CalendarDate,
        audit: @Sendable (CommitSummary) -> AuditEvent
    ) async throws -> BatchCommitOutcome {
        let header = batch.header
        let area = try stagingArea(stage)
        defer { stagingAreas.withLock { $0[stage.seq] = nil } }
        return try await pool.write { db in
            if let row = try Row.fetchOne(
                db,
                sql:
                    "SELECT envelope_hash, receipt FROM batches WHERE source = ? AND batch_id = ? AND state = 'committed'",
                arguments: [header.source.value, header.batchId.description]
            ) {
                try Self.discard(stage.seq, in: db)
                let hash: Data = row["envelope_hash"]
                return Array(hash) == batch.envelopeHash ? .duplicate(row["receipt"]) : .conflict
            }
            guard
                let epoch = try Int64.fetchOne(
                    db,
                    sql: "SELECT epoch FROM batches WHERE seq = ? AND state = 'staging'",
                    arguments: [stage.seq]
                )
            else {
                throw StoreError("staging area \(stage.seq) is gone (discarded by a restart?)")
            }
            let commitSeq = (try Int64.fetchOne(db, sql: "SELECT MAX(commit_seq) FROM batches") ?? 0) + 1
            let now = audit(CommitSummary()).time
            var index = try SQLiteDeliveryIndex(
                db: db,
                rules: rules,
                day: day,
                now: now,
                lifetimes: lifetimes,
                scratch: scratchDirectory,
                sortMemory: sortMemory
            )
            try index.bringUpToDate()
            let source = header.source.value
            let dataset = header.dataset.value
            let current = index.current
            let (datasetID, sourceID) = (try current.id(dataset: dataset), try current.id(source: source))
            // What a complete picture no longer holds is withdrawn: found before its lines are
            // applied (a picture holds no withdrawals, so none of these keys is in a line).
            var gone: [[UInt8]: [[UInt8]]] = [:]
            if let complete {
                try current.keys(dataset: dataset, source: source) { person, key in
                    if !complete.contains(RecordKey(storedBytes: key)) {
                        gone[Array(person), default: []].append(Array(key))
                    }
                }
                try db.execute(
                    sql: "INSERT OR REPLACE INTO pictures (source, dataset, complete_at) VALUES (?, ?, ?)",
                    arguments: [source, dataset, now.timeIntervalSince1970]
                )
            }
            // The lines in key order, one person at a time: the person's records as held are read
            // once (one range of `current` per dataset), the person's lines applied to them, and the
            // person's deliveries recomputed from the result while the next people are applied.
            var lines = try area.lines()
            let changedAt = now.timeIntervalSince1970
            var apply = CommitApplication(source: source, dataset: dataset, epoch: epoch, changedAt: changedAt)
            var line = try lines.next()
            func withdrawGone(
                _ keys: [[UInt8]],
                of person: [UInt8],
                from records: inout [SQLiteDeliveryIndex.StoredCurrent]
            ) throws {
                for key in keys {
                    try current.delete(key, of: person, dataset: datasetID, source: sourceID)
                    records.removeAll { $0.key.bytes == key && $0.source == source }
                }
                apply.summary.withdrawn += keys.count
            }
            var rest: [(key: [UInt8], value: [[UInt8]])].Iterator?
            try index.refresh {
                while let first = line {
                    let person = first.person
                    var records = try current.records(of: person)
                    var changed = false
                    if let keys = gone.removeValue(forKey: person) {
                        try withdrawGone(keys, of: person, from: &records)
                        changed = true
                    }
                    while let staged = line, staged.person == person {
                        switch apply.line(key: staged.key, region: staged.region, fields: staged.fields, to: &records) {
                        case .none: break
                        case .delete:
                            try current.delete(staged.key.bytes, of: person, dataset: datasetID, source: sourceID)
                            changed = true
                        case .write(let record):
                            try current.write(
                                record,
                                of: person,
                                dataset: datasetID,
                                source: sourceID,
                                batch: commitSeq
                            )
                            changed = true
                        }
                        line = try lines.next()
                    }
                    if changed { return (person, records) }
                }
                // People whose only change is a withdrawal by the picture, in person order.
                if rest == nil {
                    rest = gone.sorted { $0.key.lexicographicallyPrecedes($1.key) }.makeIterator()
                    gone = [:]
                }
                guard let (person, keys) = rest?.next() else { return nil }
                var records = try current.records(of: person)
                try withdrawGone(keys, of: person, from: &records)
                return (person, records)
            }
            try db.execute(
                sql: """
                    UPDATE batches SET state = 'committed', commit_seq = ?, envelope_hash = ?, accepted = ?, rejected = ?, receipt = ?, committed_at = ?
                    WHERE seq = ? AND state = 'staging'
                    """,
                arguments: [
                    commitSeq, Data(batch.envelopeHash), accepted, rejected, receipt, now.timeIntervalSince1970,
                    stage.seq,
                ]
            )
            try append(audit(apply.summary), in: db)
            return .committed(receipt)
        }
    }

    /// The receipt and envelope hash of a committed batch, if there is one.
    package func committedBatch(
        source: OIN,
        batchId: BatchID
    ) throws -> (envelopeHash: [UInt8], receipt: SignedReceiptJSON)? {
        try pool.read { db in
            try Row.fetchOne(
                db,
                sql:
                    "SELECT envelope_hash, receipt FROM batches WHERE source = ? AND batch_id = ? AND state = 'committed'",
                arguments: [source.value, batchId.description]
            )
            .map { (Array($0["envelope_hash"] as Data), $0["receipt"]) }
        }
    }

    /// Drops every staging area left by a process that stopped mid-batch. Call at start, before
    /// serving, with no other gateway instance using this database.
    /// - Returns: how many interrupted batches were dropped.
    @discardableResult
    package func discardInterruptedBatches() throws -> Int {
        try pool.write { db in
            let stale = try Int64.fetchAll(db, sql: "SELECT seq FROM batches WHERE state = 'staging'")
            for seq in stale { try Self.discard(seq, in: db) }
            return stale.count
        }
    }

    /// Number of committed batches and of current records (for summaries and tests).
    package func counts() throws -> (batches: Int, records: Int) {
        try pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM batches WHERE state = 'committed'") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current") ?? 0
            )
        }
    }

    /// Rows of records, current or staged (for crash tests).
    package func storedRecordRows() throws -> Int {
        let staged = stagingAreas.withLock { $0.values.reduce(0) { $0 + $1.count } }
        return staged + (try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current") ?? 0 })
    }

    /// Per committed batch: its id, its accepted count and how many current records it holds.
    package func committedBatches() throws -> [(source: OIN, batchId: BatchID, accepted: Int, records: Int)] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT b.source, b.batch_id, b.accepted, (SELECT COUNT(*) FROM current c WHERE c.batch = b.commit_seq) AS n
                    FROM batches b WHERE b.state = 'committed' ORDER BY b.commit_seq
                    """
            ).map { (OIN($0["source"])!, BatchID($0["batch_id"] as String)!, $0["accepted"], $0["n"]) }
        }
    }

    /// The current records of `dataset` in `region` (for tests and tools; not a delivery path).
    package func currentRecords(dataset: DatasetID, region: RegionNumber) throws -> [CurrentRecord] {
        try pool.read { db in
            let completeAt = try SQLiteDeliveryIndex.completeTimes(db)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT c.person, c.key, c.epoch, s.oin AS source, d.name AS dataset, c.region, c.fields, c.changed_at
                    FROM current c JOIN datasets d ON d.id = c.dataset JOIN sources s ON s.id = c.source WHERE d.name = ? AND c.region = ?
                    """,
                arguments: [dataset.value, region.value]
            )
            .map { SQLiteDeliveryIndex.currentRecord($0, completeAt: completeAt) }
        }
    }

    // MARK: Retention

    /// Removes every current record of a dataset last confirmed before that dataset's cutoff,
    /// brings the index up to date, and appends `audit(result)` in the same transaction when
    /// anything was removed (nothing is removed unless the entry is written).
    @discardableResult
    package func purge(
        before cutoffs: [DatasetID: Date],
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date,
        audit: (PurgeResult) -> AuditEvent
    ) throws -> PurgeResult {
        try pool.write { db in
            var index = try SQLiteDeliveryIndex(
                db: db,
                rules: rules,
                day: day,
                now: now,
                lifetimes: lifetimes,
                scratch: scratchDirectory,
                sortMemory: sortMemory
            )
            try index.bringUpToDate()
            var result = PurgeResult()
            for (dataset, cutoff) in cutoffs.sorted(by: { $0.key < $1.key }) {
                guard let id = index.current.existingID(dataset: dataset.value) else { continue }
                let expired = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT c.person, c.key, c.batch FROM current c JOIN sources s ON s.id = c.source WHERE c.dataset = ? AND c.changed_at < ?
                        AND NOT EXISTS (SELECT 1 FROM pictures p WHERE p.source = s.oin AND p.dataset = ? AND p.complete_at >= ?)
                        """,
                    arguments: [id, cutoff.timeIntervalSince1970, dataset.value, cutoff.timeIntervalSince1970]
                )
                guard !expired.isEmpty else { continue }
                for row in expired {
                    let person = Array(row["person"] as Data)
                    try index.current.delete(Array(row["key"] as Data), of: person, dataset: id, source: nil)
                    try index.markDirty(person)
                }
                result.records[dataset] = expired.count
                result.batches[dataset] = Set(expired.map { $0["batch"] as Int64 }).count
            }
            try index.refreshDirty()
            if !result.batches.isEmpty { try append(audit(result), in: db) }
            return result
        }
    }

    // MARK: Audit

    /// Appends an event to the audit chain in its own transaction.
    package func appendAudit(_ event: AuditEvent) throws {
        try pool.write { db in try append(event, in: db) }
    }

    /// Appends an event, committed together with the events of other callers waiting at the same
    /// moment (``AuditGroupCommit``: one transaction and one fsync for all of them).
    package func appendAuditGrouped(_ event: AuditEvent) async throws {
        try await auditGroups.append(event)
    }

    /// Appends events in order, in one transaction (all or none); the last one is signed, which
    /// covers the others (``AuditVerifier``).
    package func appendAudit(_ events: [AuditEvent]) throws {
        try pool.write { db in try append(events, in: db) }
    }

    private func append(_ events: [AuditEvent], in db: Database) throws {
        try Self.append(events, signing: auditSigning, in: db)
    }

    private static func append(_ events: [AuditEvent], signing: AuditSigning?, in db: Database) throws {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO audit (seq, time, actor, action, event, prev_hash, hash, role, outcome, region, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        for entry in AuditAppend.chain(events, after: try head(in: db), signing: signing) {
            let event = entry.event
            try insert.execute(arguments: [
                entry.sequence, event.time.timeIntervalSince1970, event.actor?.value, event.action.rawValue,
                Data(entry.canonical), Data(entry.previousHash), Data(entry.hash),
                event.role?.rawValue, event.outcome.rawValue, event.region?.value, entry.signature.map { Data($0) },
            ])
            if let checkpoint = entry.checkpoint { try Self.insert(checkpoint, in: db) }
        }
    }

    private static func head(in db: Database) throws -> (sequence: Int64, hash: [UInt8]) {
        guard let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") else {
            return AuditAppend.emptyHead
        }
        return (row["seq"], Array(row["hash"] as Data))
    }

    func append(_ event: AuditEvent, in db: Database) throws { try append([event], in: db) }

    private static func insert(_ checkpoint: AuditCheckpoint, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO audit_checkpoints (seq, time, hash, key_id, signature) VALUES (?, ?, ?, ?, ?)",
            arguments: [checkpoint.sequence, checkpoint.time, checkpoint.hash, checkpoint.keyId, checkpoint.signature]
        )
    }

    /// Signs a checkpoint of the chain's head now, unless the head already has one (or there is
    /// no entry). The gateway calls it every `checkpointSeconds`.
    @discardableResult
    package func checkpointAudit(at time: Date) throws -> AuditCheckpoint? {
        guard let auditSigning else { return nil }
        return try pool.write { db in
            let head = try Self.head(in: db)
            guard head.sequence > 0,
                try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit_checkpoints") ?? 0 < head.sequence
            else { return nil }
            let checkpoint = AuditCheckpoint(
                sequence: head.sequence,
                hash: head.hash,
                time: time,
                key: auditSigning.key
            )
            try Self.insert(checkpoint, in: db)
            return checkpoint
        }
    }

    /// Every signed checkpoint, in order.
    package func auditCheckpoints() throws -> [AuditCheckpoint] {
        try pool.read { db in try Self.checkpoints(in: db) }
    }

    private static func checkpoints(in db: Database) throws -> [AuditCheckpoint] {
        try Row.fetchAll(db, sql: "SELECT seq, time, hash, key_id, signature FROM audit_checkpoints ORDER BY seq").map {
            AuditCheckpoint(
                sequence: $0["seq"],
                hash: $0["hash"],
                time: $0["time"],
                keyId: $0["key_id"],
                signature: $0["signature"]
            )
        }
    }

    /// Recomputes the whole audit chain as stored, with its checkpoints, the auditor's `held`
    /// checkpoints, and (given `key`) the checkpoints' signatures.
    package func verifyAudit(held: [AuditCheckpoint] = [], key: SigningPublicKey? = nil) throws -> AuditVerdict {
        try pool.read { db in
            var verifier = AuditVerifier(checkpoints: try Self.checkpoints(in: db), held: held, key: key)
            let statement = try db.makeStatement(
                sql:
                    "SELECT seq, event, prev_hash, hash, signature, time, actor, action, role, outcome, region FROM audit ORDER BY seq"
            )
            let s = statement.sqliteStatement
            // Read through the C API: verification walks every entry, and row objects cost more than the hashing.
            func blob(_ column: Int32) -> [UInt8] {
                guard let pointer = sqlite3_column_blob(s, column) else { return [] }
                return Array(UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(s, column))))
            }
            while true {
                let status = sqlite3_step(s)
                if status == SQLITE_DONE { break }
                guard status == SQLITE_ROW else {
                    throw DatabaseError(
                        resultCode: ResultCode(rawValue: status),
                        message: "reading the audit log failed"
                    )
                }
                // Text columns as buffers into the row, valid until the next step.
                func text(_ column: Int32) -> AuditColumns.Text? {
                    guard sqlite3_column_type(s, column) != SQLITE_NULL, let pointer = sqlite3_column_text(s, column)
                    else { return nil }
                    return .buffer(UnsafeBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(s, column))))
                }
                let columns = AuditColumns(
                    time: sqlite3_column_double(s, 5),
                    actor: text(6),
                    action: text(7),
                    role: text(8),
                    outcome: text(9),
                    region: sqlite3_column_type(s, 10) == SQLITE_NULL ? nil : sqlite3_column_int64(s, 10)
                )
                verifier.check(
                    sequence: sqlite3_column_int64(s, 0),
                    canonicalEvent: blob(1),
                    previousHash: blob(2),
                    hash: blob(3),
                    signature: sqlite3_column_type(s, 4) == SQLITE_NULL ? nil : blob(4),
                    columns: columns
                )
            }
            sqlite3_reset(s)
            return verifier.verdict()
        }
    }

    /// Writes the audit log, checkpoints first, as lines of `format` (``AuditExport``).
    package func exportAudit(_ format: AuditExport.Format, to write: (String) throws -> Void) throws {
        try pool.read { db in
            if let preamble = AuditExport.preamble(format) { try write(preamble) }
            for checkpoint in try Self.checkpoints(in: db) { try write(AuditExport.line(checkpoint, format)) }
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT seq, event, prev_hash, hash, signature FROM audit ORDER BY seq"
            )
            while let row = try rows.next() {
                try write(
                    AuditExport.line(
                        sequence: row["seq"],
                        canonical: Array(row["event"] as Data),
                        previousHash: Array(row["prev_hash"] as Data),
                        hash: Array(row["hash"] as Data),
                        signature: (row["signature"] as Data?).map { Array($0) },
                        format
                    )
                )
            }
        }
    }

    /// Audit entries matching `filter`, at most `limit`: after entry `after` in order, or with
    /// `newestFirst` before entry `before` (all if `nil`), newest first.
    package func auditEntries(
        _ filter: AuditFilter,
        after: Int64 = 0,
        before: Int64? = nil,
        newestFirst: Bool = false,
        limit: Int = 100
    ) throws -> [StoredAuditEntry] {
        try pool.read { db in
            var conditions = [newestFirst ? "seq < ?" : "seq > ?"]
            var arguments: StatementArguments = [newestFirst ? (before ?? Int64.max) : after]
            if let from = filter.from {
                conditions.append("time >= ?")
                arguments += [from.timeIntervalSince1970]
            }
            if let to = filter.to {
                conditions.append("time < ?")
                arguments += [to.timeIntervalSince1970]
            }
            if let actor = filter.actor {
                conditions.append("actor = ?")
                arguments += [actor.value]
            }
            if let action = filter.action {
                conditions.append("action = ?")
                arguments += [action.rawValue]
            }
            if let region = filter.region {
                conditions.append("region = ?")
                arguments += [region.value]
            }
            if let outcome = filter.outcome {
                conditions.append("outcome = ?")
                arguments += [outcome.rawValue]
            }
            arguments += [limit]
            let sql =
                "SELECT seq, event, hash FROM audit WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq \(newestFirst ? "DESC" : "ASC") LIMIT ?"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                StoredAuditEntry(
                    sequence: row["seq"],
                    event: try AuditChain.decode(Array(row["event"] as Data)),
                    hash: Array(row["hash"] as Data)
                )
            }
        }
    }

    /// Per region, purpose and consumer: how often it pulled, how many records it received, and
    /// when it last pulled; and per region the number of refusals. From the audit log.
    package func pullOverview() throws -> (pulls: [PullSummary], refusals: [RegionNumber?: Int]) {
        try pool.read { db in
            let pulls = try Row.fetchAll(
                db,
                sql: """
                    SELECT region, json_extract(CAST(event AS TEXT), '$.purpose') AS purpose, actor, COUNT(*) AS pulls,
                           TOTAL(json_extract(CAST(event AS TEXT), '$.counts.records')) AS records, MAX(time) AS last
                    FROM audit WHERE action = 'records.pull' AND outcome = 'success' AND region IS NOT NULL
                    GROUP BY region, purpose, actor ORDER BY region, purpose, actor
                    """
            ).compactMap { row -> PullSummary? in
                guard let region = RegionNumber(row["region"] as Int), let actor = OIN(row["actor"] as String? ?? "")
                else { return nil }
                return PullSummary(
                    region: region,
                    purpose: (row["purpose"] as String?).map { PurposeID($0) },
                    consumer: actor,
                    pulls: row["pulls"],
                    records: Int(row["records"] as Double),
                    last: Date(timeIntervalSince1970: row["last"])
                )
            }
            var refusals: [RegionNumber?: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT region, COUNT(*) AS n FROM audit WHERE outcome IN ('refused', 'failed') GROUP BY region"
            ) {
                refusals[(row["region"] as Int?).flatMap { RegionNumber($0) }] = row["n"]
            }
            return (pulls, refusals)
        }
    }

    /// The chain hash of entry `sequence`, if there is one.
    package func auditHash(at sequence: Int64) throws -> [UInt8]? {
        try pool.read { db in
            try Data.fetchOne(db, sql: "SELECT hash FROM audit WHERE seq = ?", arguments: [sequence]).map { Array($0) }
        }
    }

    /// Removes the stored checkpoints beyond entry `sequence`.
    package func discardAuditCheckpoints(after sequence: Int64) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM audit_checkpoints WHERE seq > ?", arguments: [sequence])
        }
    }

    /// Number of audit entries.
    package func auditHead() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit") ?? 0 }
    }

    /// All audit events in order (for summaries, export and tests).
    package func auditEvents() throws -> [AuditEvent] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT event FROM audit ORDER BY seq").map { try AuditChain.decode(Array($0)) }
        }
    }

    /// Runs a raw statement. For tests that must corrupt the store on purpose.
    /// - Warning: bypasses every invariant of this type.
    package func uncheckedExecute(_ sql: String) throws {
        try pool.write { db in try db.execute(sql: sql) }
    }
}
