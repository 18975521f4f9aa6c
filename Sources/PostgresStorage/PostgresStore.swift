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
import VangnetCrypto

/// The store on PostgreSQL, for several gateway instances sharing one database.
///
/// Same tables and invariants as ``SQLiteStore``. Where SQLite has one writer, PostgreSQL has
/// many: commits take `batches` in SHARE ROW EXCLUSIVE mode (one commit at a time decides the
/// commit order and whether a batch id is taken) and audit appends take `audit` in EXCLUSIVE
/// mode (one chain, whichever instance appends). Staging runs concurrently.
///
/// Each store holds a session advisory lock on its own random instance number for as long as it
/// runs, and marks its staging areas with that number. A staging area whose instance's lock is
/// free was left by a process that stopped; ``discardInterruptedBatches()`` drops only those, so
/// an instance that starts never touches the uploads another instance is receiving.
package final class PostgresStore: RecordStore, StoreTampering {
    let client: PostgresClient
    let logger: Logger
    let auditSigning: AuditSigning?
    let lifetimes: DeliveryLifetimes
    /// This store's instance number: the second key of its advisory lock.
    let instance: Int32
    /// The first key of every instance's advisory lock ("VGNT").
    static let lockSpace: Int32 = 0x5647_4E54
    /// The connection pool and the audit writer, until ``close()``.
    private let runner: Task<Void, Never>
    private let auditWriter: AsyncStream<AuditGroup>.Continuation
    /// The connection that holds this instance's advisory lock.
    private let lock: PostgresConnection
    /// Appends of concurrent callers, committed together: one transaction and one turn of the
    /// lock on `audit` for all of them.
    private let auditGroups: AuditGroupCommit

    /// Connects (the client runs until ``close()``), brings the schema up to date and takes this
    /// instance's lock. With `auditSigning`, every `every`-th audit entry gets a signed
    /// checkpoint in its transaction.
    package init(
        configuration: PostgresClient.Configuration,
        auditSigning: AuditSigning? = nil,
        lifetimes: DeliveryLifetimes = DeliveryLifetimes(),
        logger: Logger = Logger(label: "vangnet.postgres")
    ) async throws {
        self.lifetimes = lifetimes
        let instance = Int32.random(in: 1...Int32.max)
        self.instance = instance
        // First a connection of its own, which also says at once why the server cannot be
        // reached (the pool retries forever). It holds this instance's lock: the lock is the
        // session's, held for as long as the connection is open.
        let lock = try await Self.connect(configuration, logger: logger)
        do {
            try await Self.requireSchema(of: configuration, on: lock, logger: logger)
            try await lock.query("SELECT pg_advisory_lock(\(Self.lockSpace), \(instance))", logger: logger)
        } catch let error as StoreError {
            try? await lock.close()
            throw error
        } catch {
            try? await lock.close()
            throw StoreError(Self.reason(error))
        }
        self.lock = lock
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.auditSigning = auditSigning
        // The pool, and the audit writer next to it (groups one at a time; no appender's
        // cancellation reaches a group), run from here to `close()` in the store's one task: the
        // store is used before any service group runs (a gateway checks its chain and records its
        // start before it serves; operator commands have no group at all).
        let (groups, writer) = AsyncStream.makeStream(of: AuditGroup.self)
        self.auditWriter = writer
        runner = Task {
            await withDiscardingTaskGroup { tasks in
                tasks.addTask { await client.run() }
                for await group in groups {
                    do {
                        try await client.withTransaction(logger: logger) { c in
                            try await Self.append(group.events, on: c, signing: auditSigning, logger: logger)
                        }
                        group.done(.success(()))
                    } catch {
                        group.done(.failure(error))
                    }
                }
                tasks.cancelAll()
            }
        }
        auditGroups = AuditGroupCommit { events, done in
            if case .dropped = writer.yield(AuditGroup(events: events, done: done)) {
                done(.failure(StoreError("the store is closed")))
            }
        }
        do {
            try await migrate()
        } catch {
            shutdown()
            throw error
        }
    }

    /// A connection of its own, outside the pool, with `configuration`'s server and settings.
    static func direct(_ configuration: PostgresClient.Configuration) -> PostgresConnection.Configuration {
        var direct = PostgresConnection.Configuration(
            host: configuration.host ?? "localhost",
            port: configuration.port ?? 5432,
            username: configuration.username,
            password: configuration.password,
            database: configuration.database,
            tls: .disable
        )
        direct.options.connectTimeout = .seconds(10)
        direct.options.additionalStartupParameters = configuration.options.additionalStartupParameters
        return direct
    }

    /// A direct connection, outside the pool: it fails at once with the server's or the
    /// network's reason, while the pool retries a refused or rejected connection forever.
    static func connect(
        _ configuration: PostgresClient.Configuration,
        logger: Logger
    ) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: direct(configuration), id: 0, logger: logger)
        } catch {
            throw StoreError(Self.reason(error))
        }
    }

    /// A `?schema=` that names no schema of the database stops the start with what to do: the
    /// gateway makes its tables, never the schema (who owns it is the operator's decision).
    static func requireSchema(
        of configuration: PostgresClient.Configuration,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        guard let schema = configuration.options.additionalStartupParameters.first(where: { $0.0 == "search_path" })?.1
        else { return }
        let rows = try await connection.query(
            "SELECT 1 FROM pg_namespace WHERE nspname = \(schema)",
            logger: logger
        )
        for try await _ in rows { return }
        throw StoreError(
            "the schema \(schema) does not exist in database \(configuration.database ?? "?"): create it first (CREATE SCHEMA \(schema) AUTHORIZATION \(configuration.username);) or leave ?schema= out of the URL"
        )
    }

    /// What went wrong, in the server's or the network's words (no query, no parameters).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(type(of: error))" }
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying { return String(describing: underlying) }
        return "\(error.code)"
    }

    /// Parses `postgres://user:password@host:port/database?schema=name`. Without a password in
    /// the URL, `VANGNET_DATABASE_PASSWORD` from the environment is used (keeps it out of files);
    /// `schema` sets the search path (default: the user's).
    package static func configuration(
        url: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql",
            let host = components.host, let user = components.user, components.path.count > 1
        else {
            throw StoreError("not a postgres://user@host/database URL")
        }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user,
            password: components.password ?? environment["VANGNET_DATABASE_PASSWORD"],
            database: String(components.path.dropFirst()),
            tls: .disable
        )
        if let schema = components.queryItems?.first(where: { $0.name == "schema" })?.value {
            guard schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw StoreError("schema must be letters, digits and _")
            }
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        return configuration
    }

    package func close() async {
        auditWriter.finish()
        await runner.value
        _ = try? await lock.query("SELECT pg_advisory_unlock(\(Self.lockSpace), \(instance))", logger: logger)
        try? await lock.close()
    }

    /// Closes without waiting (tests): the lock goes with its connection.
    package func shutdown() {
        auditWriter.finish()
        runner.cancel()
        Self.release(lock)
    }

    deinit { Self.release(lock) }

    /// Closes `connection` in the background, keeping it until it is closed (a connection must
    /// not go before it is).
    private static func release(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        connection.close().whenComplete { _ in _ = connection }
    }

    /// A group of audit events for the writer, and whom to tell how its write went.
    struct AuditGroup: Sendable {
        let events: [AuditEvent]
        let done: @Sendable (Result<Void, any Error>) -> Void
    }

    /// One version of the schema: applied once, in the transaction that records it.
    struct Migration: Sendable {
        let version: Int
        let name: String
        let statements: @Sendable (PostgresConnection, Logger) async throws -> Void

        init(_ version: Int, _ name: String, _ sql: [String]) {
            self.init(version, name) { c, logger in
                for statement in sql { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
            }
        }

        init(
            _ version: Int,
            _ name: String,
            _ statements: @escaping @Sendable (PostgresConnection, Logger) async throws -> Void
        ) {
            (self.version, self.name, self.statements) = (version, name, statements)
        }
    }

    /// The schema's versions, in order. Each is also idempotent (`IF NOT EXISTS`), because
    /// databases made before versions were recorded already have some of them.
    static let migrations: [Migration] = [
        Migration(
            1,
            "batches and the audit chain",
            [
                """
                CREATE TABLE IF NOT EXISTS batches (
                    seq BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, batch_id TEXT NOT NULL, dataset TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('staging', 'committed')), epoch BIGINT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
                    commit_seq BIGINT UNIQUE, envelope_hash BYTEA, accepted BIGINT, rejected BIGINT, receipt TEXT,
                    committed_at DOUBLE PRECISION, purged_at DOUBLE PRECISION)
                """,
                "CREATE UNIQUE INDEX IF NOT EXISTS batches_committed ON batches (source, batch_id) WHERE state = 'committed'",
                """
                CREATE TABLE IF NOT EXISTS audit (
                    seq BIGINT PRIMARY KEY, time DOUBLE PRECISION NOT NULL, actor TEXT, action TEXT NOT NULL, event BYTEA NOT NULL,
                    prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL, role TEXT, outcome TEXT, region BIGINT)
                """,
                """
                CREATE TABLE IF NOT EXISTS audit_checkpoints (
                    seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, hash TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL)
                """,
            ]
        ),
        // The instance whose staging area a batch is (instances drop only their own at start).
        Migration(
            2,
            "staging areas owned by an instance",
            ["ALTER TABLE batches ADD COLUMN IF NOT EXISTS owner INTEGER"]
        ),
        // Each entry's own Ed25519 signature by the audit key over its chain hash.
        Migration(3, "audit entry signatures", ["ALTER TABLE audit ADD COLUMN IF NOT EXISTS signature BYTEA"]),
        Migration(4, "records with identity and the delivery index") { c, logger in
            try await PostgresStore.migrateDelivery(c, logger: logger)
        },
        Migration(
            5,
            "re-identification",
            [
                """
                CREATE TABLE IF NOT EXISTS subjects (stream BIGINT NOT NULL, pseudonym TEXT NOT NULL, person BYTEA NOT NULL,
                    PRIMARY KEY (stream, pseudonym))
                """,
                "CREATE INDEX IF NOT EXISTS subjects_person ON subjects (person)",
                """
                CREATE TABLE IF NOT EXISTS reidentifications (
                    id TEXT PRIMARY KEY, region BIGINT NOT NULL, purpose TEXT NOT NULL, requester TEXT NOT NULL,
                    reason TEXT NOT NULL, case_reference TEXT NOT NULL, pseudonyms TEXT NOT NULL, people BIGINT NOT NULL,
                    month BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused', 'released', 'expired')),
                    decided_by TEXT, decided_at DOUBLE PRECISION, decision_reason TEXT, released_at DOUBLE PRECISION)
                """,
                "CREATE INDEX IF NOT EXISTS reidentifications_quota ON reidentifications (region, purpose, month)",
                "CREATE INDEX IF NOT EXISTS reidentifications_open ON reidentifications (expires_at) WHERE state IN ('pending', 'approved')",
                "CREATE INDEX IF NOT EXISTS reidentifications_created ON reidentifications (created_at)",
            ]
        ),
        Migration(
            6,
            "collections",
            [
                "CREATE TABLE IF NOT EXISTS collections (stream BIGINT PRIMARY KEY, seq BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL)"
            ]
        ),
    ]

    /// The schema versions applied to this database, in order (the newest this gateway knows is
    /// ``knownSchemaVersion``).
    package func schemaVersions() async throws -> [Int] {
        var versions: [Int] = []
        for try await v in try await client.query(
            "SELECT version FROM schema_migrations ORDER BY version",
            logger: logger
        ).decode(Int.self) { versions.append(v) }
        return versions
    }

    package static var knownSchemaVersion: Int { migrations.map(\.version).max() ?? 0 }

    /// Applies the versions the database lacks, under a lock that makes concurrent starts of
    /// several instances take turns; refuses a database that a newer gateway migrated. On the
    /// store's own connection, not the pool's: the pool is not leased from before its `run()` has
    /// begun in the runner task.
    private func migrate() async throws {
        try await lock.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(4242)", logger: logger)
            try await c.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)
                """,
                logger: logger
            )
            var applied = Set<Int>()
            for try await version in try await c.query("SELECT version FROM schema_migrations", logger: logger).decode(
                Int.self
            ) { applied.insert(version) }
            let known = Self.knownSchemaVersion
            if let newer = applied.filter({ $0 > known }).max() {
                throw StoreError(
                    "the database's schema is version \(newer), made by a newer gateway; this one knows up to version \(known)"
                )
            }
            for migration in Self.migrations where !applied.contains(migration.version) {
                try await migration.statements(c, logger)
                try await c.query(
                    """
                    INSERT INTO schema_migrations VALUES (\(migration.version), \(migration.name), \(Date().timeIntervalSince1970))
                    """,
                    logger: logger
                )
            }
        }
    }

    // MARK: Batches

    package func beginStaging(
        source: OIN,
        batchId: BatchID,
        dataset: DatasetID,
        epoch: UInt32,
        at time: Date
    ) async throws -> StagingID {
        let rows = try await client.query(
            """
            INSERT INTO batches (source, batch_id, dataset, state, epoch, started_at, owner)
            VALUES (\(source.value), \(batchId.description), \(dataset.value), 'staging', \(Int64(epoch)), \(time.timeIntervalSince1970), \(instance))
            RETURNING seq
            """,
            logger: logger
        )
        for try await seq in rows.decode(Int64.self) { return StagingID(seq: seq) }
        throw StoreError("staging area not created")
    }

    package func committedBatch(
        source: OIN,
        batchId: BatchID
    ) async throws -> (envelopeHash: [UInt8], receipt: SignedReceiptJSON)? {
        let rows = try await client.query(
            """
            SELECT envelope_hash, receipt FROM batches WHERE source = \(source.value) AND batch_id = \(batchId.description) AND state = 'committed'
            """,
            logger: logger
        )
        for try await (hash, receipt) in rows.decode((ByteBuffer, String).self) {
            return (Array(buffer: hash), receipt)
        }
        return nil
    }

    /// Drops the staging areas of instances whose lock is free: their process stopped.
    package func discardInterruptedBatches() async throws -> Int {
        var owners: [Int32?] = []
        let rows = try await client.query(
            "SELECT DISTINCT owner FROM batches WHERE state = 'staging' AND owner IS DISTINCT FROM \(instance)",
            logger: logger
        )
        for try await owner in rows.decode(Int32?.self) { owners.append(owner) }
        var discarded = 0
        for owner in owners {
            discarded += try await client.withConnection { c in
                if let owner {
                    var stopped = false
                    for try await free in try await c.query(
                        "SELECT pg_try_advisory_lock(\(Self.lockSpace), \(owner))",
                        logger: self.logger
                    ).decode(Bool.self) {
                        stopped = free
                    }
                    guard stopped else { return 0 }
                }
                let seqs = try await c.withTransaction(logger: self.logger) { t in
                    var stale: [Int64] = []
                    for try await seq in try await t.query(
                        "SELECT seq FROM batches WHERE state = 'staging' AND owner IS NOT DISTINCT FROM \(owner)",
                        logger: self.logger
                    ).decode(Int64.self) { stale.append(seq) }
                    for seq in stale { try await self.discard(seq, on: t) }
                    return stale
                }
                if let owner {
                    try await c.query("SELECT pg_advisory_unlock(\(Self.lockSpace), \(owner))", logger: self.logger)
                }
                return seqs.count
            }
        }
        return discarded
    }

    func scalar(_ sql: String) async throws -> Int {
        for try await n in try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) {
            return Int(n)
        }
        return 0
    }

    // MARK: Audit

    /// Group-committed with concurrent appends (``AuditGroupCommit``).
    package func appendAudit(_ event: AuditEvent) async throws {
        try await auditGroups.append(event)
    }

    /// The chain's last entry (0 and the genesis hash when empty).
    private static func head(on c: PostgresConnection, logger: Logger) async throws -> (sequence: Int64, hash: [UInt8])
    {
        for try await (seq, hash) in try await c.query(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            logger: logger
        ).decode((Int64, ByteBuffer).self) {
            return (seq, Array(buffer: hash))
        }
        return AuditAppend.emptyHead
    }

    /// Appends inside the caller's transaction, under an exclusive lock on the table: one chain,
    /// whichever instance appends.
    func append(_ event: AuditEvent, on c: PostgresConnection) async throws {
        try await Self.append([event], on: c, signing: auditSigning, logger: logger)
    }

    /// Appends `events` in order (the last one signed, which covers the others).
    private static func append(
        _ events: [AuditEvent],
        on c: PostgresConnection,
        signing: AuditSigning?,
        logger: Logger
    ) async throws {
        try await c.query("LOCK TABLE audit IN EXCLUSIVE MODE", logger: logger)
        for entry in AuditAppend.chain(events, after: try await head(on: c, logger: logger), signing: signing) {
            let event = entry.event
            try await c.query(
                """
                INSERT INTO audit (seq, time, actor, action, event, prev_hash, hash, role, outcome, region, signature)
                VALUES (\(entry.sequence), \(event.time.timeIntervalSince1970), \(event.actor?.value), \(event.action.rawValue), \(ByteBuffer(bytes: entry.canonical)),
                        \(ByteBuffer(bytes: entry.previousHash)), \(ByteBuffer(bytes: entry.hash)), \(event.role?.rawValue), \(event.outcome.rawValue),
                        \(event.region.map { Int64($0.value) }), \(entry.signature.map { ByteBuffer(bytes: $0) }))
                """,
                logger: logger
            )
            if let checkpoint = entry.checkpoint { try await insert(checkpoint, on: c, logger: logger) }
        }
    }

    private static func insert(_ checkpoint: AuditCheckpoint, on c: PostgresConnection, logger: Logger) async throws {
        try await c.query(
            """
            INSERT INTO audit_checkpoints (seq, time, hash, key_id, signature)
            VALUES (\(checkpoint.sequence), \(checkpoint.time), \(checkpoint.hash), \(checkpoint.keyId), \(checkpoint.signature)) ON CONFLICT DO NOTHING
            """,
            logger: logger
        )
    }

    package func checkpointAudit(at time: Date) async throws -> AuditCheckpoint? {
        guard let auditSigning else { return nil }
        return try await client.withTransaction(logger: logger) { c in
            try await c.query("LOCK TABLE audit IN EXCLUSIVE MODE", logger: logger)
            let head = try await Self.head(on: c, logger: self.logger)
            var signed: Int64 = 0
            for try await seq in try await c.query(
                "SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints",
                logger: logger
            ).decode(Int64.self) { signed = seq }
            guard head.sequence > 0, signed < head.sequence else { return nil }
            let checkpoint = AuditCheckpoint(
                sequence: head.sequence,
                hash: head.hash,
                time: time,
                key: auditSigning.key
            )
            try await Self.insert(checkpoint, on: c, logger: self.logger)
            return checkpoint
        }
    }

    package func auditHead() async throws -> Int64 {
        Int64(try await scalar("SELECT COALESCE(MAX(seq), 0) FROM audit"))
    }

    package func discardAuditCheckpoints(after sequence: Int64) async throws {
        try await client.query("DELETE FROM audit_checkpoints WHERE seq > \(sequence)", logger: logger)
    }

    package func auditHash(at sequence: Int64) async throws -> [UInt8]? {
        for try await hash in try await client.query("SELECT hash FROM audit WHERE seq = \(sequence)", logger: logger)
            .decode(ByteBuffer.self)
        {
            return Array(buffer: hash)
        }
        return nil
    }

    package func pullOverview() async throws -> (pulls: [PullSummary], refusals: [RegionNumber?: Int]) {
        var pulls: [PullSummary] = []
        let rows = try await client.query(
            """
            SELECT region, e ->> 'purpose', actor, COUNT(*), COALESCE(SUM((e -> 'counts' ->> 'records')::float8), 0), MAX(time)
            FROM (SELECT region, actor, time, convert_from(event, 'UTF8')::jsonb AS e FROM audit
                  WHERE action = 'records.pull' AND outcome = 'success' AND region IS NOT NULL) AS p
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """,
            logger: logger
        )
        for try await (region, purpose, actor, count, records, last) in rows.decode(
            (Int64, String?, String?, Int64, Double, Double).self
        ) {
            guard let region = RegionNumber(Int(region)), let actor = OIN(actor ?? "") else { continue }
            pulls.append(
                PullSummary(
                    region: region,
                    purpose: purpose.map { PurposeID($0) },
                    consumer: actor,
                    pulls: Int(count),
                    records: Int(records),
                    last: Date(timeIntervalSince1970: last)
                )
            )
        }
        var refusals: [RegionNumber?: Int] = [:]
        let refused = try await client.query(
            "SELECT region, COUNT(*) FROM audit WHERE outcome IN ('refused', 'failed') GROUP BY region",
            logger: logger
        )
        for try await (region, count) in refused.decode((Int64?, Int64).self) {
            refusals[region.flatMap { RegionNumber(Int($0)) }] = Int(count)
        }
        return (pulls, refusals)
    }

    package func auditCheckpoints() async throws -> [AuditCheckpoint] {
        var out: [AuditCheckpoint] = []
        let rows = try await client.query(
            "SELECT seq, time, hash, key_id, signature FROM audit_checkpoints ORDER BY seq",
            logger: logger
        )
        for try await (seq, time, hash, keyId, signature) in rows.decode((Int64, Int64, String, String, String).self) {
            out.append(AuditCheckpoint(sequence: seq, hash: hash, time: time, keyId: keyId, signature: signature))
        }
        return out
    }

    package func verifyAudit(held: [AuditCheckpoint], key: SigningPublicKey?) async throws -> AuditVerdict {
        var verifier = AuditVerifier(checkpoints: try await auditCheckpoints(), held: held, key: key)
        let rows = try await client.query(
            """
            SELECT seq, event, prev_hash, hash, signature, time, actor, action, role, outcome, region FROM audit ORDER BY seq
            """,
            logger: logger
        )
        for try await (seq, event, previous, hash, signature, time, actor, action, role, outcome, region)
            in rows.decode(
                (
                    Int64, ByteBuffer, ByteBuffer, ByteBuffer, ByteBuffer?, Double, String?, String, String?, String?,
                    Int64?
                ).self
            )
        {
            verifier.check(
                sequence: seq,
                canonicalEvent: Array(buffer: event),
                previousHash: Array(buffer: previous),
                hash: Array(buffer: hash),
                signature: signature.map { Array(buffer: $0) },
                columns: AuditColumns(
                    time: time,
                    actor: actor.map { .string($0) },
                    action: .string(action),
                    role: role.map { .string($0) },
                    outcome: outcome.map { .string($0) },
                    region: region
                )
            )
        }
        return verifier.verdict()
    }

    package func auditEntries(
        _ filter: AuditFilter,
        after: Int64,
        before: Int64?,
        newestFirst: Bool,
        limit: Int
    ) async throws -> [StoredAuditEntry] {
        // Absent filters are NULL parameters that match anything: one statement, all values bound.
        let bound = newestFirst ? (before ?? Int64.max) : after
        let rows = try await client.query(
            """
            SELECT seq, event, hash FROM audit
            WHERE (CASE WHEN \(newestFirst) THEN seq < \(bound) ELSE seq > \(bound) END)
              AND (\(filter.from?.timeIntervalSince1970)::float8 IS NULL OR time >= \(filter.from?.timeIntervalSince1970))
              AND (\(filter.to?.timeIntervalSince1970)::float8 IS NULL OR time < \(filter.to?.timeIntervalSince1970))
              AND (\(filter.actor?.value)::text IS NULL OR actor = \(filter.actor?.value))
              AND (\(filter.action?.rawValue)::text IS NULL OR action = \(filter.action?.rawValue))
              AND (\(filter.region.map { Int64($0.value) })::int8 IS NULL OR region = \(filter.region.map { Int64($0.value) }))
              AND (\(filter.outcome?.rawValue)::text IS NULL OR outcome = \(filter.outcome?.rawValue))
            ORDER BY CASE WHEN \(newestFirst) THEN -seq ELSE seq END
            LIMIT \(Int64(limit))
            """,
            logger: logger
        )
        var entries: [StoredAuditEntry] = []
        for try await (seq, event, hash) in rows.decode((Int64, ByteBuffer, ByteBuffer).self) {
            entries.append(
                StoredAuditEntry(
                    sequence: seq,
                    event: try AuditChain.decode(Array(buffer: event)),
                    hash: Array(buffer: hash)
                )
            )
        }
        return entries
    }

    package func exportAudit(_ format: AuditExport.Format, to write: (String) throws -> Void) async throws {
        if let preamble = AuditExport.preamble(format) { try write(preamble) }
        for checkpoint in try await auditCheckpoints() { try write(AuditExport.line(checkpoint, format)) }
        let rows = try await client.query(
            "SELECT seq, event, prev_hash, hash, signature FROM audit ORDER BY seq",
            logger: logger
        )
        for try await (seq, event, previous, hash, signature) in rows.decode(
            (Int64, ByteBuffer, ByteBuffer, ByteBuffer, ByteBuffer?).self
        ) {
            try write(
                AuditExport.line(
                    sequence: seq,
                    canonical: Array(buffer: event),
                    previousHash: Array(buffer: previous),
                    hash: Array(buffer: hash),
                    signature: signature.map { Array(buffer: $0) },
                    format
                )
            )
        }
    }

    // MARK: Retention

    package func uncheckedExecute(_ sql: String) async throws {
        for statement in sql.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        where !statement.isEmpty {
            try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }
}
