import GRDB
import Pseudonymisation

/// The `current` table of a ``SQLiteStore`` within one write transaction: every record as it
/// stands, the newest version its source sent for its key.
///
/// Clustered by (dataset, person, key), with the dataset and the source stored as small numbers
/// (`datasets`, `sources`): a dataset's records are one range (what a complete picture is compared
/// with, what retention looks at) and a person's records are one range per dataset, so the table
/// needs no second index, and a batch, being of one dataset, writes it in key order.
final class CurrentTable {
    typealias Record = SQLiteDeliveryIndex.StoredCurrent

    private let db: Database
    private var datasetNames: [Int64: String] = [:], sourceNames: [Int64: String] = [:]
    private var datasetIDs: [String: Int64] = [:], sourceIDs: [String: Int64] = [:]
    // Prepared once per transaction: these run once per record or person.
    private lazy var held = Self.statement(
        db,
        """
        SELECT key, epoch, source, dataset, region, fields, changed_at FROM current WHERE dataset IN (SELECT id FROM datasets) AND person = ?
        """
    )
    private lazy var upsert = Self.statement(
        db,
        """
        INSERT INTO current (dataset, person, key, epoch, source, region, fields, batch, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (dataset, person, key) DO UPDATE SET epoch = excluded.epoch, region = excluded.region, fields = excluded.fields,
            batch = excluded.batch, changed_at = excluded.changed_at
        WHERE current.source = excluded.source
        """
    )
    private lazy var deleteOfSource = Self.statement(
        db,
        "DELETE FROM current WHERE dataset = ? AND person = ? AND key = ? AND source = ?"
    )
    private lazy var deleteOfAny = Self.statement(
        db,
        "DELETE FROM current WHERE dataset = ? AND person = ? AND key = ?"
    )

    private static func statement(_ db: Database, _ sql: String) -> Result<SQLiteStatement, any Error> {
        Result { try SQLiteStatement(db, sql) }
    }

    init(_ db: Database) throws {
        self.db = db
        for row in try Row.fetchAll(db, sql: "SELECT id, name FROM datasets") {
            (datasetNames[row[0]], datasetIDs[row[1]]) = (row[1], row[0])
        }
        for row in try Row.fetchAll(db, sql: "SELECT id, oin FROM sources") {
            (sourceNames[row[0]], sourceIDs[row[1]]) = (row[1], row[0])
        }
    }

    /// The number a dataset's records are stored under, if any was ever stored.
    func existingID(dataset: String) -> Int64? { datasetIDs[dataset] }
    /// The number a source's records are stored under, if any was ever stored.
    func existingID(source: String) -> Int64? { sourceIDs[source] }

    /// The number of a dataset, given one if it has none yet.
    func id(dataset: String) throws -> Int64 {
        if let id = datasetIDs[dataset] { return id }
        try db.execute(sql: "INSERT INTO datasets (name) VALUES (?)", arguments: [dataset])
        (datasetIDs[dataset], datasetNames[db.lastInsertedRowID]) = (db.lastInsertedRowID, dataset)
        return db.lastInsertedRowID
    }

    /// The number of a source, given one if it has none yet.
    func id(source: String) throws -> Int64 {
        if let id = sourceIDs[source] { return id }
        try db.execute(sql: "INSERT INTO sources (oin) VALUES (?)", arguments: [source])
        (sourceIDs[source], sourceNames[db.lastInsertedRowID]) = (db.lastInsertedRowID, source)
        return db.lastInsertedRowID
    }

    /// A person's records, fields as stored: one range per dataset.
    func records(of person: [UInt8]) throws -> [Record] {
        let held = try self.held.get()
        held.bind(.blob(person))
        var records: [Record] = []
        while try held.step() {
            records.append(
                Record(
                    key: held.withBlob(0) { RecordKey(storedBytes: $0) },
                    epoch: UInt32(held.int(1)),
                    source: sourceNames[held.int(2)] ?? "",
                    dataset: datasetNames[held.int(3)] ?? "",
                    region: Int(held.int(4)),
                    fields: held.text(5) ?? "{}",
                    changedAt: held.double(6)
                )
            )
        }
        return records
    }

    /// Adds `record` of `source` and `dataset` (numbers), or replaces the one held with its key if
    /// that is the same source's (another source's record stays as it is).
    func write(_ record: Record, of person: [UInt8], dataset: Int64, source: Int64, batch: Int64) throws {
        try upsert.get().run(
            .int(dataset),
            .blob(person),
            .blob(record.key.bytes),
            .int(Int64(record.epoch)),
            .int(source),
            .int(Int64(record.region)),
            .text(record.fields),
            .int(batch),
            .double(record.changedAt)
        )
    }

    /// Removes the record with `key` of `person` in `dataset` (numbers), if it is `source`'s (any
    /// source's when `nil`).
    func delete(_ key: [UInt8], of person: [UInt8], dataset: Int64, source: Int64?) throws {
        if let source {
            try deleteOfSource.get().run(.int(dataset), .blob(person), .blob(key), .int(source))
        } else {
            try deleteOfAny.get().run(.int(dataset), .blob(person), .blob(key))
        }
    }

    /// The person and key of every record of `dataset` from `source`, in key order.
    func keys(
        dataset: String,
        source: String,
        _ body: (_ person: UnsafeRawBufferPointer, _ key: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard let dataset = existingID(dataset: dataset), let source = existingID(source: source) else { return }
        let held = try SQLiteStatement(db, "SELECT person, key FROM current WHERE dataset = ? AND source = ?")
        held.bind(.int(dataset), .int(source))
        while try held.step() {
            try held.withBlob(0) { person in try held.withBlob(1) { key in try body(person, key) } }
        }
    }
}

extension CurrentTable {
    /// SQL that is true when person `parameter` (an SQL expression) has a current record.
    static func hasRecords(_ person: String) -> String {
        "EXISTS (SELECT 1 FROM current WHERE dataset IN (SELECT id FROM datasets) AND person = \(person))"
    }

    /// Moves a store from `current` clustered by (person, key) with its dataset and source as text
    /// and an index by (dataset, source), to this shape.
    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE datasets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                CREATE TABLE sources (id INTEGER PRIMARY KEY, oin TEXT NOT NULL UNIQUE);
                INSERT INTO datasets (name) SELECT DISTINCT dataset FROM current ORDER BY dataset;
                INSERT INTO sources (oin) SELECT DISTINCT source FROM current ORDER BY source;
                CREATE TABLE current_by_dataset_and_person (
                    dataset INTEGER NOT NULL, -- datasets.id
                    person BLOB NOT NULL, key BLOB NOT NULL, epoch INTEGER NOT NULL,
                    source INTEGER NOT NULL,  -- sources.id
                    region INTEGER NOT NULL, fields TEXT NOT NULL,
                    batch INTEGER NOT NULL,   -- batches.commit_seq of the version
                    changed_at REAL NOT NULL, -- its commit time
                    PRIMARY KEY (dataset, person, key)
                ) WITHOUT ROWID;
                INSERT INTO current_by_dataset_and_person
                    SELECT d.id, c.person, c.key, c.epoch, s.id, c.region, c.fields, c.batch, c.changed_at
                    FROM current c JOIN datasets d ON d.name = c.dataset JOIN sources s ON s.oin = c.source ORDER BY d.id, c.person, c.key;
                DROP TABLE current;
                ALTER TABLE current_by_dataset_and_person RENAME TO current;
                """
        )
    }
}
