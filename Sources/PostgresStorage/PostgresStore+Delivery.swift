import AuditLog
import BatchEnvelope
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Pseudonymisation
import Records
import Storage
import VangnetCore

// Batches, current records and the delivery index on PostgreSQL: the tables of ``SQLiteStore``
// (see DeliveryIndex.swift), the decisions of ``DeliveryIndex`` and the rules, written set-wise
// (one statement per group of people, arrays unnested by the server) because every statement is
// a round trip. Every transaction that writes the index first locks the one `delivery_state` row,
// so versions are numbered in commit order whichever instance writes them, and a day's
// maintenance is done by the first instance to take the lock (the others find the day done).

extension PostgresStore {
    static func migrateDelivery(_ c: PostgresConnection, logger: Logger) async throws {
        for statement in [
            "CREATE TABLE IF NOT EXISTS staged (stage BIGINT NOT NULL, line BIGINT NOT NULL, person BYTEA NOT NULL, key BYTEA NOT NULL, region BIGINT, fields TEXT, PRIMARY KEY (stage, line))",
            """
            CREATE TABLE IF NOT EXISTS current (person BYTEA NOT NULL, key BYTEA NOT NULL, epoch BIGINT NOT NULL, source TEXT NOT NULL, dataset TEXT NOT NULL,
                region BIGINT NOT NULL, fields TEXT NOT NULL, batch BIGINT NOT NULL, changed_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (person, key))
            """,
            "CREATE INDEX IF NOT EXISTS current_by_dataset ON current (dataset, source)",
            "CREATE TABLE IF NOT EXISTS pictures (source TEXT NOT NULL, dataset TEXT NOT NULL, complete_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (source, dataset))",
            "CREATE TABLE IF NOT EXISTS people (person BYTEA PRIMARY KEY, recheck BIGINT)",
            "CREATE INDEX IF NOT EXISTS people_recheck ON people (recheck) WHERE recheck IS NOT NULL",
            "CREATE TABLE IF NOT EXISTS streams (id BIGSERIAL PRIMARY KEY, region BIGINT NOT NULL, purpose TEXT NOT NULL, UNIQUE (region, purpose))",
            """
            CREATE TABLE IF NOT EXISTS deliveries (stream BIGINT NOT NULL, item BYTEA NOT NULL, seq BIGINT NOT NULL, line TEXT, person BYTEA NOT NULL,
                at DOUBLE PRECISION NOT NULL, superseded BIGINT, superseded_at DOUBLE PRECISION, PRIMARY KEY (stream, item, seq))
            """,
            "CREATE INDEX IF NOT EXISTS deliveries_changes ON deliveries (stream, seq) WHERE superseded IS NULL",
            "CREATE INDEX IF NOT EXISTS deliveries_live ON deliveries (person) WHERE superseded IS NULL",
            "CREATE INDEX IF NOT EXISTS deliveries_superseded ON deliveries (superseded_at) WHERE superseded IS NOT NULL",
            "CREATE INDEX IF NOT EXISTS deliveries_withdrawals ON deliveries (at) WHERE line IS NULL AND superseded IS NULL",
            """
            CREATE TABLE IF NOT EXISTS delivery_state (id INT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, day BIGINT, rules TEXT,
                snapshot_horizon BIGINT NOT NULL, cursor_horizon BIGINT NOT NULL)
            """,
            "INSERT INTO delivery_state VALUES (1, 0, NULL, NULL, 0, 0) ON CONFLICT (id) DO NOTHING",
        ] {
            try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        // Records stored before they had identity: each becomes the current version of its record.
        var old = false
        for try await exists in try await c.query("SELECT to_regclass('records') IS NOT NULL", logger: logger).decode(
            Bool.self
        ) { old = exists }
        guard old else { return }
        var rows: [(String, String, Int64, Int64, Double, Int64, ByteBuffer, String)] = []
        for try await row in try await c.query(
            """
            SELECT b.source, b.dataset, b.epoch, b.commit_seq, b.committed_at, r.region, r.person, r.fields
            FROM records r JOIN batches b ON b.seq = r.batch WHERE b.state = 'committed' ORDER BY b.commit_seq, r.region, r.line
            """,
            logger: logger
        ).decode((String, String, Int64, Int64, Double, Int64, ByteBuffer, String).self) { rows.append(row) }
        for (source, dataset, epoch, commit, at, region, person, fields) in rows {
            guard let schema = DatasetSchema.defaults[DatasetID(dataset)] else { continue }
            let p = InternalPseudonym(storedBytes: Array(buffer: person), epoch: UInt32(epoch))
            let key = RecordKey(
                person: p,
                dataset: DatasetID(dataset),
                identity: schema.identity(of: FlatJSON.decodeFields(fields))
            )
            try await c.query(
                """
                INSERT INTO current VALUES (\(person), \(ByteBuffer(bytes: key.bytes)), \(epoch), \(source), \(dataset), \(region), \(fields), \(commit), \(at))
                ON CONFLICT (person, key) DO UPDATE SET fields = excluded.fields, region = excluded.region, batch = excluded.batch, changed_at = excluded.changed_at
                """,
                logger: logger
            )
        }
        try await c.query("DROP TABLE records", logger: logger)
    }

    // MARK: Batches

    /// One statement per group: the lines as arrays, unnested by the server.
    package func stage(_ lines: [StagedLine], into stage: StagingID) async throws {
        guard !lines.isEmpty else { return }
        // Arrays cannot carry NULL here: a withdrawal is region -1 and fields '' (a stored record is never empty).
        var numbers: [Int64] = []
        var persons: [ByteBuffer] = []
        var keys: [ByteBuffer] = []
        var regions: [Int64] = []
        var fields: [String] = []
        for line in lines {
            switch line {
            case .record(let r):
                numbers.append(Int64(r.record.line))
                persons.append(ByteBuffer(bytes: r.record.person.bytes))
                keys.append(ByteBuffer(bytes: r.record.key.bytes))
                regions.append(Int64(r.region.value))
                fields.append(r.record.storedFields)
            case .withdrawal(let w):
                numbers.append(Int64(w.line))
                persons.append(ByteBuffer(bytes: w.person.bytes))
                keys.append(ByteBuffer(bytes: w.key.bytes))
                regions.append(-1)
                fields.append("")
            }
        }
        try await client.query(
            """
            INSERT INTO staged (stage, line, person, key, region, fields)
            SELECT \(stage.seq), l, p, k, NULLIF(r, -1), NULLIF(f, '') FROM UNNEST(\(numbers)::int8[], \(persons)::bytea[], \(keys)::bytea[], \(regions)::int8[], \(fields)::text[]) AS t(l, p, k, r, f)
            """,
            logger: logger
        )
    }

    package func discard(_ stage: StagingID) async throws {
        try await client.withTransaction(logger: logger) { c in try await self.discard(stage.seq, on: c) }
    }

    func discard(_ seq: Int64, on c: PostgresConnection) async throws {
        try await c.query("DELETE FROM staged WHERE stage = \(seq)", logger: logger)
        try await c.query("DELETE FROM batches WHERE seq = \(seq) AND state = 'staging'", logger: logger)
    }

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
        return try await client.withTransaction(logger: logger) { c in
            try await c.query("LOCK TABLE batches IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            let earlier = try await c.query(
                """
                SELECT envelope_hash, receipt FROM batches WHERE source = \(header.source.value) AND batch_id = \(header.batchId.description) AND state = 'committed'
                """,
                logger: logger
            )
            for try await (hash, first) in earlier.decode((ByteBuffer, String).self) {
                try await self.discard(stage.seq, on: c)
                return Array(buffer: hash) == batch.envelopeHash ? .duplicate(first) : .conflict
            }
            var epoch: Int64?
            for try await e in try await c.query(
                "SELECT epoch FROM batches WHERE seq = \(stage.seq) AND state = 'staging'",
                logger: logger
            ).decode(Int64.self) { epoch = e }
            guard let epoch else { throw StoreError("staging area \(stage.seq) is gone (discarded by a restart?)") }
            var commitSeq: Int64 = 1
            for try await maximum in try await c.query(
                "SELECT COALESCE(MAX(commit_seq), 0) FROM batches",
                logger: logger
            ).decode(Int64.self) {
                commitSeq = maximum + 1
            }
            var summary = CommitSummary()
            let now = audit(summary).time
            var index = try await PostgresDeliveryIndex(c, store: self, rules: rules, day: day, now: now)
            try await index.bringUpToDate()
            let source = header.source.value
            let dataset = header.dataset.value
            let at = now.timeIntervalSince1970
            for try await (records, withdrawals) in try await c.query(
                """
                SELECT COUNT(*) FILTER (WHERE fields IS NOT NULL), COUNT(*) FILTER (WHERE fields IS NULL) FROM staged WHERE stage = \(stage.seq)
                """,
                logger: logger
            ).decode((Int64, Int64).self) {
                (summary.unchanged, summary.withdrawnUnknown) = (Int(records), Int(withdrawals))
            }
            for try await (added, changed) in try await c.query(
                """
                WITH up AS (
                    INSERT INTO current (person, key, epoch, source, dataset, region, fields, batch, changed_at)
                    SELECT s.person, s.key, \(epoch), \(source), \(dataset), s.region, s.fields, \(commitSeq), \(at) FROM staged s
                    WHERE s.stage = \(stage.seq) AND s.fields IS NOT NULL
                    ON CONFLICT (person, key) DO UPDATE SET epoch = excluded.epoch, source = excluded.source, region = excluded.region,
                        fields = excluded.fields, batch = excluded.batch, changed_at = excluded.changed_at
                    WHERE current.source = excluded.source
                      AND (current.region IS DISTINCT FROM excluded.region OR current.fields IS DISTINCT FROM excluded.fields)
                    RETURNING person, (xmax = 0) AS inserted),
                marked AS (INSERT INTO dirty SELECT DISTINCT person FROM up ON CONFLICT DO NOTHING)
                SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FILTER (WHERE NOT inserted) FROM up
                """,
                logger: logger
            ).decode((Int64, Int64).self) {
                summary.added = Int(added)
                summary.changed = Int(changed)
                summary.unchanged -= Int(added + changed)
            }
            for try await withdrawn in try await c.query(
                """
                WITH gone AS (DELETE FROM current c USING staged s WHERE s.stage = \(stage.seq) AND s.fields IS NULL AND c.person = s.person AND c.key = s.key
                              AND c.source = \(source)
                              RETURNING c.person),
                marked AS (INSERT INTO dirty SELECT DISTINCT person FROM gone ON CONFLICT DO NOTHING)
                SELECT COUNT(*) FROM gone
                """,
                logger: logger
            ).decode(Int64.self) {
                summary.withdrawn = Int(withdrawn)
                summary.withdrawnUnknown -= Int(withdrawn)
            }
            if complete != nil {
                // The staged lines are the complete picture: what it no longer holds is withdrawn.
                // A set difference, hashed or sorted whatever the statistics say: written as NOT
                // EXISTS, a staging area the planner had not seen yet (estimated at one row) made it
                // scan the whole area for every record held (a picture of 200,000 against 200,000
                // held ran for more than 12 minutes instead of seconds).
                for try await withdrawn in try await c.query(
                    """
                    WITH dropped AS (SELECT person, key FROM current WHERE dataset = \(dataset) AND source = \(source)
                                     EXCEPT SELECT person, key FROM staged WHERE stage = \(stage.seq)),
                    gone AS (DELETE FROM current c USING dropped d WHERE c.person = d.person AND c.key = d.key RETURNING c.person),
                    marked AS (INSERT INTO dirty SELECT DISTINCT person FROM gone ON CONFLICT DO NOTHING)
                    SELECT COUNT(*) FROM gone
                    """,
                    logger: logger
                ).decode(Int64.self) { summary.withdrawn += Int(withdrawn) }
                try await c.query(
                    """
                    INSERT INTO pictures VALUES (\(source), \(dataset), \(at)) ON CONFLICT (source, dataset) DO UPDATE SET complete_at = excluded.complete_at
                    """,
                    logger: logger
                )
            }
            try await index.refreshDirty()
            try await c.query("DELETE FROM staged WHERE stage = \(stage.seq)", logger: logger)
            try await c.query(
                """
                UPDATE batches SET state = 'committed', commit_seq = \(commitSeq), envelope_hash = \(ByteBuffer(bytes: batch.envelopeHash)),
                    accepted = \(Int64(accepted)), rejected = \(Int64(rejected)), receipt = \(receipt), committed_at = \(at)
                WHERE seq = \(stage.seq) AND state = 'staging'
                """,
                logger: logger
            )
            try await self.append(audit(summary), on: c)
            return .committed(receipt)
        }
    }

    package func counts() async throws -> (batches: Int, records: Int) {
        (
            try await scalar("SELECT COUNT(*) FROM batches WHERE state = 'committed'"),
            try await scalar("SELECT COUNT(*) FROM current")
        )
    }

    package func storedRecordRows() async throws -> Int {
        try await scalar("SELECT (SELECT COUNT(*) FROM current) + (SELECT COUNT(*) FROM staged)")
    }

    package func currentRecords(dataset: DatasetID, region: RegionNumber) async throws -> [CurrentRecord] {
        try await client.withConnection { c in
            let completeAt = try await PostgresDeliveryIndex.completeTimes(c, logger: self.logger)
            return try await PostgresDeliveryIndex.currentRecords(
                try await c.query(
                    """
                    SELECT person, key, epoch, source, dataset, region, fields, changed_at FROM current WHERE dataset = \(dataset.value) AND region = \(Int64(region.value))
                    """,
                    logger: self.logger
                ),
                completeAt: completeAt
            )
        }
    }

    // MARK: Delivery

    package func maintainDeliveries(
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date
    ) async throws -> DeliveryMaintenance {
        try await client.withTransaction(logger: logger) { c in
            var index = try await PostgresDeliveryIndex(c, store: self, rules: rules, day: day, now: now)
            return try await index.bringUpToDate()
        }
    }

    package func readDeliveries(_ read: DeliveryRead) async throws -> DeliveryReadResult {
        try await client.withTransaction(logger: logger) { c in
            // One snapshot for the head and the rows.
            try await c.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: self.logger)
            var state: (Int64, Int64, Int64) = (0, 0, 0)
            for try await row in try await c.query(
                "SELECT seq, snapshot_horizon, cursor_horizon FROM delivery_state",
                logger: self.logger
            )
            .decode((Int64, Int64, Int64).self) { state = row }
            let stream: DeliveryStream
            switch read {
            case .picture(let s, _, _, _), .changes(let s, _, _): stream = s
            }
            var id: Int64?
            for try await found in try await c.query(
                "SELECT id FROM streams WHERE region = \(Int64(stream.region.value)) AND purpose = \(stream.purpose.value)",
                logger: self.logger
            ).decode(Int64.self) { id = found }
            var rows = DeliveryRows.Builder()
            if let id {
                let result: PostgresRowSequence
                switch read {
                case .picture(_, let snapshot, let after, let limit):
                    let at = snapshot ?? state.0
                    result = try await c.query(
                        """
                        SELECT seq, item, line FROM deliveries
                        WHERE stream = \(id) AND item > \(ByteBuffer(bytes: after ?? [])) AND seq <= \(at) AND line IS NOT NULL AND (superseded IS NULL OR superseded > \(at))
                        ORDER BY item LIMIT \(Int64(limit))
                        """,
                        logger: self.logger
                    )
                case .changes(_, let after, let limit):
                    result = try await c.query(
                        """
                        SELECT seq, item, line FROM deliveries WHERE stream = \(id) AND seq > \(after) AND superseded IS NULL ORDER BY seq LIMIT \(Int64(limit))
                        """,
                        logger: self.logger
                    )
                }
                for try await (seq, item, line) in result.decode((Int64, ByteBuffer, ByteBuffer?).self) {
                    item.withUnsafeReadableBytes { item in
                        if let line {
                            line.withUnsafeReadableBytes { rows.append(seq: seq, item: item, line: $0) }
                        } else {
                            rows.append(seq: seq, item: item, line: nil)
                        }
                    }
                }
            }
            return DeliveryReadResult(
                found: rows.finish(),
                head: state.0,
                snapshotHorizon: state.1,
                cursorHorizon: state.2
            )
        }
    }

    // MARK: Retention

    package func purge(
        before cutoffs: [DatasetID: Date],
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date,
        audit: @escaping @Sendable (PurgeResult) -> AuditEvent
    ) async throws -> PurgeResult {
        try await client.withTransaction(logger: logger) { c in
            var index = try await PostgresDeliveryIndex(c, store: self, rules: rules, day: day, now: now)
            try await index.bringUpToDate()
            var result = PurgeResult()
            for (dataset, cutoff) in cutoffs.sorted(by: { $0.key < $1.key }) {
                let at = cutoff.timeIntervalSince1970
                for try await (records, batches) in try await c.query(
                    """
                    WITH gone AS (DELETE FROM current c WHERE c.dataset = \(dataset.value) AND c.changed_at < \(at)
                                  AND NOT EXISTS (SELECT 1 FROM pictures p WHERE p.source = c.source AND p.dataset = c.dataset AND p.complete_at >= \(at))
                                  RETURNING c.person, c.batch),
                    marked AS (INSERT INTO dirty SELECT DISTINCT person FROM gone ON CONFLICT DO NOTHING)
                    SELECT COUNT(*), COUNT(DISTINCT batch) FROM gone
                    """,
                    logger: logger
                ).decode((Int64, Int64).self) where records > 0 {
                    result.records[dataset] = Int(records)
                    result.batches[dataset] = Int(batches)
                }
            }
            try await index.refreshDirty()
            if !result.batches.isEmpty { try await self.append(audit(result), on: c) }
            return result
        }
    }
}

/// The delivery index inside one PostgreSQL transaction (the counterpart of the SQLite one):
/// people marked in the temporary table `dirty` are recomputed in groups.
struct PostgresDeliveryIndex {
    let c: PostgresConnection
    let logger: Logger
    let rules: any DeliveryRules
    let day: CalendarDate
    let now: Date
    let lifetimes: DeliveryLifetimes
    private var seq: Int64 = 0
    private var stateDay: Int64?
    private var stateRules: String?
    private var streams: [DeliveryStream: Int64] = [:]
    /// The streams of the purposes that allow re-identification, by number.
    private var reidentifyingStreams = Set<Int64>()
    private var completeAt: [String: Date] = [:]
    private var maintenance = DeliveryMaintenance()
    static let group = 500

    /// Takes the index's lock (the `delivery_state` row) for the rest of the transaction.
    init(
        _ c: PostgresConnection,
        store: PostgresStore,
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date
    ) async throws {
        (self.c, self.logger, self.rules, self.day, self.now, self.lifetimes) = (
            c, store.logger, rules, day, now, store.lifetimes
        )
        for try await (seq, day, rules) in try await c.query(
            "SELECT seq, day, rules FROM delivery_state WHERE id = 1 FOR UPDATE",
            logger: logger
        )
        .decode((Int64, Int64?, String?).self) { (self.seq, stateDay, stateRules) = (seq, day, rules) }
        try await c.query(
            "CREATE TEMPORARY TABLE IF NOT EXISTS dirty (person BYTEA PRIMARY KEY) ON COMMIT DELETE ROWS",
            logger: logger
        )
        for try await (id, region, purpose) in try await c.query(
            "SELECT id, region, purpose FROM streams",
            logger: logger
        ).decode((Int64, Int64, String).self) {
            streams[DeliveryStream(region: RegionNumber(Int(region))!, purpose: PurposeID(purpose))] = id
            if rules.reidentifying.contains(PurposeID(purpose)) { reidentifyingStreams.insert(id) }
        }
    }

    static func completeTimes(_ c: PostgresConnection, logger: Logger) async throws -> [String: Date] {
        var out: [String: Date] = [:]
        for try await (source, dataset, at) in try await c.query(
            "SELECT source, dataset, complete_at FROM pictures",
            logger: logger
        ).decode((String, String, Double).self) {
            out[source + "\u{0}" + dataset] = Date(timeIntervalSince1970: at)
        }
        return out
    }

    static func currentRecords(_ rows: PostgresRowSequence, completeAt: [String: Date]) async throws -> [CurrentRecord]
    {
        var out: [CurrentRecord] = []
        for try await (person, key, epoch, source, dataset, region, fields, changedAt)
            in rows.decode((ByteBuffer, ByteBuffer, Int64, String, String, Int64, String, Double).self)
        {
            let changed = Date(timeIntervalSince1970: changedAt)
            out.append(
                CurrentRecord(
                    key: RecordKey(storedBytes: Array(buffer: key)),
                    dataset: DatasetID(dataset),
                    person: InternalPseudonym(storedBytes: Array(buffer: person), epoch: UInt32(epoch)),
                    region: RegionNumber(Int(region))!,
                    fields: FlatJSON.decodeFields(fields),
                    confirmedAt: max(changed, completeAt[source + "\u{0}" + dataset] ?? changed)
                )
            )
        }
        return out
    }

    /// Rebuilds the index if the rules changed, or moves it to `day`; compacts on a new day.
    @discardableResult
    mutating func bringUpToDate() async throws -> DeliveryMaintenance {
        let dayNumber = DeliveryIndex.dayNumber(day)
        if stateRules != rules.version {
            maintenance.rebuilt = true
            // Who each pseudonym is follows the rules too: written again for everyone below.
            try await c.query("DELETE FROM subjects", logger: logger)
            try await c.query(
                """
                INSERT INTO dirty SELECT DISTINCT person FROM current
                UNION SELECT DISTINCT person FROM deliveries WHERE superseded IS NULL AND line IS NOT NULL
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        } else if stateDay.map({ $0 < dayNumber }) ?? true {
            maintenance.newDay = true
            try await c.query(
                "INSERT INTO dirty SELECT person FROM people WHERE recheck <= \(dayNumber) ON CONFLICT DO NOTHING",
                logger: logger
            )
            try await compact()
        } else {
            return maintenance
        }
        try await refreshDirty()
        let newDay = max(dayNumber, stateDay ?? 0)
        try await c.query("UPDATE delivery_state SET day = \(newDay), rules = \(rules.version)", logger: logger)
        (stateDay, stateRules) = (newDay, rules.version)
        return maintenance
    }

    /// Recomputes every person in `dirty`, a group at a time.
    mutating func refreshDirty() async throws {
        completeAt = try await Self.completeTimes(c, logger: logger)
        while true {
            var group: [ByteBuffer] = []
            for try await person in try await c.query(
                """
                DELETE FROM dirty WHERE person IN (SELECT person FROM dirty LIMIT \(Int64(Self.group))) RETURNING person
                """,
                logger: logger
            ).decode(ByteBuffer.self) { group.append(person) }
            if group.isEmpty { break }
            try await refresh(group)
        }
        try await c.query("UPDATE delivery_state SET seq = \(seq)", logger: logger)
    }

    private mutating func streamID(_ stream: DeliveryStream) async throws -> Int64 {
        if let id = streams[stream] { return id }
        for try await id in try await c.query(
            """
            INSERT INTO streams (region, purpose) VALUES (\(Int64(stream.region.value)), \(stream.purpose.value))
            ON CONFLICT (region, purpose) DO UPDATE SET purpose = excluded.purpose RETURNING id
            """,
            logger: logger
        ).decode(Int64.self) { streams[stream] = id }
        guard let id = streams[stream] else { throw StoreError("stream \(stream) could not be numbered") }
        if rules.reidentifying.contains(stream.purpose) { reidentifyingStreams.insert(id) }
        return id
    }

    private mutating func refresh(_ group: [ByteBuffer]) async throws {
        maintenance.people += group.count
        var records: [[UInt8]: [CurrentRecord]] = [:]
        for record in try await Self.currentRecords(
            try await c.query(
                """
                SELECT person, key, epoch, source, dataset, region, fields, changed_at FROM current WHERE person = ANY(\(group)::bytea[])
                """,
                logger: logger
            ),
            completeAt: completeAt
        ) { records[record.person.bytes, default: []].append(record) }
        var live: [[UInt8]: [LiveDelivery]] = [:]
        for try await (person, stream, item, seq, line) in try await c.query(
            """
            SELECT person, stream, item, seq, line FROM deliveries WHERE person = ANY(\(group)::bytea[]) AND superseded IS NULL
            """,
            logger: logger
        ).decode((ByteBuffer, Int64, ByteBuffer, Int64, String?).self) {
            live[Array(buffer: person), default: []].append(
                LiveDelivery(
                    stream: stream,
                    item: Array(buffer: item),
                    seq: seq,
                    digest: line.map(DeliveryIndex.digest(of:))
                )
            )
        }
        var keep: [ByteBuffer] = []
        var rechecks: [Int64] = []
        var gone: [ByteBuffer] = []  // recheck -1: none
        var ends: (streams: [Int64], items: [ByteBuffer], seqs: [Int64], by: [Int64]) = ([], [], [], [])
        var inserts: (streams: [Int64], items: [ByteBuffer], seqs: [Int64], lines: [String], persons: [ByteBuffer]) = (
            [], [], [], [], []
        )  // line '': a withdrawal
        var resubjected: [ByteBuffer] = []
        var subjects: (streams: [Int64], pseudonyms: [String], persons: [ByteBuffer]) = ([], [], [])
        for person in group {
            let bytes = Array(buffer: person)
            var desired: [DesiredDelivery] = []
            var items: [DeliveryItem] = []
            if let mine = records[bytes] {
                let recheck: CalendarDate?
                (items, recheck) = rules.deliveries(of: mine, on: day)
                for item in items {
                    desired.append(
                        DesiredDelivery(
                            stream: try await streamID(item.stream),
                            item: item.item,
                            line: item.line,
                            digest: DeliveryIndex.digest(of: item.line)
                        )
                    )
                }
                keep.append(person)
                rechecks.append(
                    recheck.map { max(DeliveryIndex.dayNumber($0), DeliveryIndex.dayNumber(day) + 1) } ?? -1
                )
            } else {
                gone.append(person)
            }
            if DeliveryIndex.subjectsChange(
                live: live[bytes] ?? [],
                items: items,
                reidentifyingStreams: reidentifyingStreams
            ) {
                resubjected.append(person)
                var seen = Set<String>()
                for item in items {
                    // One row per pseudonym: a person's items in a stream name the same one (one per key epoch).
                    guard let subject = item.subject, seen.insert("\(item.stream)/\(subject)").inserted else {
                        continue
                    }
                    subjects.streams.append(try await streamID(item.stream))
                    subjects.pseudonyms.append(subject)
                    subjects.persons.append(person)
                }
            }
            for write in DeliveryIndex.writes(live: live[bytes] ?? [], desired: desired) {
                seq += 1
                if let old = write.supersedes {
                    ends.streams.append(write.stream)
                    ends.items.append(ByteBuffer(bytes: write.item))
                    ends.seqs.append(old)
                    ends.by.append(seq)
                }
                inserts.streams.append(write.stream)
                inserts.items.append(ByteBuffer(bytes: write.item))
                inserts.seqs.append(seq)
                inserts.lines.append(write.line ?? "")
                inserts.persons.append(person)
                maintenance.versions += 1
            }
        }
        let at = now.timeIntervalSince1970
        if !keep.isEmpty {
            try await c.query(
                """
                INSERT INTO people SELECT p, NULLIF(r, -1) FROM UNNEST(\(keep)::bytea[], \(rechecks)::int8[]) AS t(p, r) ON CONFLICT (person) DO UPDATE SET recheck = excluded.recheck
                """,
                logger: logger
            )
        }
        if !gone.isEmpty {
            try await c.query("DELETE FROM people WHERE person = ANY(\(gone)::bytea[])", logger: logger)
        }
        if !resubjected.isEmpty {
            try await c.query("DELETE FROM subjects WHERE person = ANY(\(resubjected)::bytea[])", logger: logger)
        }
        if !subjects.streams.isEmpty {
            try await c.query(
                """
                INSERT INTO subjects (stream, pseudonym, person)
                SELECT s, p, r FROM UNNEST(\(subjects.streams)::int8[], \(subjects.pseudonyms)::text[], \(subjects.persons)::bytea[]) AS t(s, p, r)
                ON CONFLICT (stream, pseudonym) DO UPDATE SET person = excluded.person
                """,
                logger: logger
            )
        }
        if !ends.streams.isEmpty {
            try await c.query(
                """
                UPDATE deliveries d SET superseded = t.b, superseded_at = \(at)
                FROM UNNEST(\(ends.streams)::int8[], \(ends.items)::bytea[], \(ends.seqs)::int8[], \(ends.by)::int8[]) AS t(s, i, q, b)
                WHERE d.stream = t.s AND d.item = t.i AND d.seq = t.q
                """,
                logger: logger
            )
        }
        if !inserts.streams.isEmpty {
            try await c.query(
                """
                INSERT INTO deliveries (stream, item, seq, line, person, at)
                SELECT s, i, q, NULLIF(l, ''), p, \(at) FROM UNNEST(\(inserts.streams)::int8[], \(inserts.items)::bytea[], \(inserts.seqs)::int8[], \(inserts.lines)::text[], \(inserts.persons)::bytea[]) AS t(s, i, q, l, p)
                """,
                logger: logger
            )
        }
    }

    /// Removes superseded versions and withdrawals past their lifetimes, raising the horizons.
    private mutating func compact() async throws {
        let snapshotCutoff = now.timeIntervalSince1970 - lifetimes.snapshotSeconds
        for try await n in try await c.query(
            """
            WITH gone AS (DELETE FROM deliveries WHERE superseded IS NOT NULL AND superseded_at < \(snapshotCutoff) RETURNING superseded),
            raised AS (UPDATE delivery_state SET snapshot_horizon = GREATEST(snapshot_horizon, (SELECT MAX(superseded) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone))
            SELECT COUNT(*) FROM gone
            """,
            logger: logger
        ).decode(Int64.self) { maintenance.compacted += Int(n) }
        let cursorCutoff = now.timeIntervalSince1970 - lifetimes.cursorSeconds
        for try await n in try await c.query(
            """
            WITH gone AS (DELETE FROM deliveries WHERE line IS NULL AND superseded IS NULL AND at < \(cursorCutoff) RETURNING seq),
            raised AS (UPDATE delivery_state SET cursor_horizon = GREATEST(cursor_horizon, (SELECT MAX(seq) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone))
            SELECT COUNT(*) FROM gone
            """,
            logger: logger
        ).decode(Int64.self) { maintenance.compacted += Int(n) }
    }
}
