import AuditLog
import BatchEnvelope
import Foundation
import Pseudonymisation
import Records
import Synchronization
import VangnetCore
import VangnetCrypto

/// What the gateway needs of a store, whatever the database: its batches, its delivery index and
/// its audit chain, each a protocol of its own, and what tools look at. Two implementations pass
/// one behavioural test suite: ``SQLiteRecordStore`` (embedded, the default) and `PostgresStore`
/// (several gateway instances on one PostgreSQL).
///
/// The invariants are those of ``SQLiteStore``: a staged batch is invisible until its commit; a
/// commit makes it the current state of its records, with the delivery index, its receipt and
/// audit entry, in one transaction, or not at all; one commit per (source, batch id).
package protocol RecordStore: BatchStore, DeliveryStore, AuditStore, ReidentificationStore, CollectionStore,
    StoreInspection
{
    /// Releases the connections; the store is not used afterwards.
    func close() async
}

/// Batches: staged while they arrive, committed whole or not at all, and removed by retention.
package protocol BatchStore: Sendable {
    func beginStaging(
        source: OIN,
        batchId: BatchID,
        dataset: DatasetID,
        epoch: UInt32,
        at time: Date
    ) async throws -> StagingID
    func stage(_ lines: [StagedLine], into stage: StagingID) async throws
    func discard(_ stage: StagingID) async throws
    /// Commits a staged batch (``SQLiteStore/commit(stage:batch:accepted:rejected:receipt:complete:rules:day:audit:)``).
    func commit(
        stage: StagingID,
        batch: OpenedBatch,
        accepted: Int,
        rejected: Int,
        receipt: SignedReceiptJSON,
        complete: Set<RecordKey>?,
        rules: any DeliveryRules,
        day: CalendarDate,
        audit: @Sendable (CommitSummary) -> AuditEvent
    ) async throws -> BatchCommitOutcome
    /// The receipt and envelope hash of a committed batch, if there is one.
    func committedBatch(
        source: OIN,
        batchId: BatchID
    ) async throws -> (envelopeHash: [UInt8], receipt: SignedReceiptJSON)?
    /// Drops the staging areas of batches interrupted by a stopped process (never those of a
    /// gateway instance still running); returns how many.
    func discardInterruptedBatches() async throws -> Int
    /// Removes the current records of each dataset last confirmed before its cutoff and brings the
    /// index up to date; the purge and (if anything was removed) its audit entry are one transaction.
    func purge(
        before cutoffs: [DatasetID: Date],
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date,
        audit: @escaping @Sendable (PurgeResult) -> AuditEvent
    ) async throws -> PurgeResult
}

/// The delivery index (``DeliveryIndex``): kept up to date, read by pulls.
package protocol DeliveryStore: Sendable {
    /// Brings the delivery index up to date for `day` under `rules` (rebuilt if they changed).
    func maintainDeliveries(rules: any DeliveryRules, day: CalendarDate, now: Date) async throws -> DeliveryMaintenance
    /// One page of a stream and the index's head, read in one transaction.
    func readDeliveries(_ read: DeliveryRead) async throws -> DeliveryReadResult
}

/// The audit chain: appended, checkpointed, verified, read and exported.
package protocol AuditStore: Sendable {
    func appendAudit(_ event: AuditEvent) async throws
    /// Recomputes the chain with its stored checkpoints, the auditor's `held` ones and (given
    /// `key`) their signatures.
    func verifyAudit(held: [AuditCheckpoint], key: SigningPublicKey?) async throws -> AuditVerdict
    /// Signs a checkpoint of the chain's head now, unless it has one (needs audit signing).
    func checkpointAudit(at time: Date) async throws -> AuditCheckpoint?
    func auditCheckpoints() async throws -> [AuditCheckpoint]
    /// The sequence number of the chain's newest entry (0: none). One index lookup, whatever the
    /// chain's length: also the readiness probe's question to the store.
    func auditHead() async throws -> Int64
    /// The chain hash of entry `sequence`, if the chain has that entry.
    func auditHash(at sequence: Int64) async throws -> [UInt8]?
    /// Removes the stored checkpoints beyond entry `sequence` (after an operator accepted a chain
    /// cut short there; the decision, with the lost head, is in the chain itself).
    func discardAuditCheckpoints(after sequence: Int64) async throws
    /// Audit entries matching `filter`: after entry `after` in order, or with `newestFirst` before
    /// entry `before`, newest first; at most `limit`.
    func auditEntries(
        _ filter: AuditFilter,
        after: Int64,
        before: Int64?,
        newestFirst: Bool,
        limit: Int
    ) async throws -> [StoredAuditEntry]
    /// The audit log, checkpoints first, as lines of `format` (``AuditExport``), handed to
    /// `write` one by one as they are read.
    func exportAudit(_ format: AuditExport.Format, to write: (String) throws -> Void) async throws
    /// Per region, purpose and consumer: pulls, records received and the last pull; and per
    /// region the number of refusals. From the audit log.
    func pullOverview() async throws -> (pulls: [PullSummary], refusals: [RegionNumber?: Int])
}

/// What tools, summaries and tests look at; never a delivery path.
package protocol StoreInspection: Sendable {
    func counts() async throws -> (batches: Int, records: Int)
    /// Rows of records, current or staged.
    func storedRecordRows() async throws -> Int
    /// The current records of `dataset` in `region`.
    func currentRecords(dataset: DatasetID, region: RegionNumber) async throws -> [CurrentRecord]
}

/// Raw SQL past every invariant, for tests that tamper with a store (a rewritten audit entry, a
/// failing disk). Both stores have it; no part of the gateway sees it, since it is not part of
/// ``RecordStore``.
package protocol StoreTampering: Sendable {
    func uncheckedExecute(_ sql: String) async throws
}

/// The embedded SQLite store as a ``RecordStore``. SQLite's calls block their thread; every one
/// runs either through GRDB's asynchronous access (commits, staging, the index, pulls, audit
/// appends) or on ``SQLiteRecordStore/queue``, never on a thread of the cooperative pool, so a
/// slow disk stalls the calls waiting for it and not the gateway's other tasks.
package struct SQLiteRecordStore: RecordStore, StoreTampering {
    package let store: SQLiteStore
    package init(_ store: SQLiteStore) { self.store = store }

    /// Where the store's blocking calls run (threads of its own, as many as calls wait).
    static let queue = DispatchQueue(label: "vangnet.sqlite", qos: .userInitiated, attributes: .concurrent)

    /// Runs a blocking call of the store on ``queue`` and waits for it without holding a thread.
    private func blocking<T: Sendable>(_ body: @escaping @Sendable (SQLiteStore) throws -> T) async throws -> T {
        let store = self.store
        return try await withCheckedThrowingContinuation { continuation in
            Self.queue.async { continuation.resume(with: Result { try body(store) }) }
        }
    }

    package func beginStaging(
        source: OIN,
        batchId: BatchID,
        dataset: DatasetID,
        epoch: UInt32,
        at time: Date
    ) async throws -> StagingID {
        try await store.beginStaging(source: source, batchId: batchId, dataset: dataset, epoch: epoch, at: time)
    }
    package func stage(_ lines: [StagedLine], into stage: StagingID) async throws {
        try await store.stage(lines, into: stage)
    }
    package func discard(_ stage: StagingID) async throws { try await store.discard(stage) }
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
        try await store.commit(
            stage: stage,
            batch: batch,
            accepted: accepted,
            rejected: rejected,
            receipt: receipt,
            complete: complete,
            rules: rules,
            day: day,
            audit: audit
        )
    }
    package func committedBatch(
        source: OIN,
        batchId: BatchID
    ) async throws -> (envelopeHash: [UInt8], receipt: SignedReceiptJSON)? {
        try await blocking { try $0.committedBatch(source: source, batchId: batchId) }
    }
    /// SQLite has one gateway process: every staging area at its start was interrupted.
    package func discardInterruptedBatches() async throws -> Int {
        try await blocking { try $0.discardInterruptedBatches() }
    }
    package func counts() async throws -> (batches: Int, records: Int) { try await blocking { try $0.counts() } }
    package func storedRecordRows() async throws -> Int { try await blocking { try $0.storedRecordRows() } }
    package func currentRecords(dataset: DatasetID, region: RegionNumber) async throws -> [CurrentRecord] {
        try await blocking { try $0.currentRecords(dataset: dataset, region: region) }
    }
    package func maintainDeliveries(
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date
    ) async throws -> DeliveryMaintenance {
        try await store.maintainDeliveries(rules: rules, day: day, now: now)
    }
    package func readDeliveries(_ read: DeliveryRead) async throws -> DeliveryReadResult {
        try await store.readDeliveries(read)
    }
    /// Group-committed with concurrent appends (``SQLiteStore/appendAuditGrouped(_:)``).
    package func appendAudit(_ event: AuditEvent) async throws { try await store.appendAuditGrouped(event) }
    package func verifyAudit(held: [AuditCheckpoint], key: SigningPublicKey?) async throws -> AuditVerdict {
        try await blocking { try $0.verifyAudit(held: held, key: key) }
    }
    package func checkpointAudit(at time: Date) async throws -> AuditCheckpoint? {
        try await blocking { try $0.checkpointAudit(at: time) }
    }
    package func auditCheckpoints() async throws -> [AuditCheckpoint] {
        try await blocking { try $0.auditCheckpoints() }
    }
    package func auditHead() async throws -> Int64 { try await blocking { try $0.auditHead() } }
    package func auditHash(at sequence: Int64) async throws -> [UInt8]? {
        try await blocking { try $0.auditHash(at: sequence) }
    }
    package func discardAuditCheckpoints(after sequence: Int64) async throws {
        try await blocking { try $0.discardAuditCheckpoints(after: sequence) }
    }
    package func pullOverview() async throws -> (pulls: [PullSummary], refusals: [RegionNumber?: Int]) {
        try await blocking { try $0.pullOverview() }
    }
    package func purge(
        before cutoffs: [DatasetID: Date],
        rules: any DeliveryRules,
        day: CalendarDate,
        now: Date,
        audit: @escaping @Sendable (PurgeResult) -> AuditEvent
    ) async throws -> PurgeResult {
        try await blocking { try $0.purge(before: cutoffs, rules: rules, day: day, now: now, audit: audit) }
    }
    package func auditEntries(
        _ filter: AuditFilter,
        after: Int64,
        before: Int64?,
        newestFirst: Bool,
        limit: Int
    ) async throws -> [StoredAuditEntry] {
        try await blocking {
            try $0.auditEntries(filter, after: after, before: before, newestFirst: newestFirst, limit: limit)
        }
    }
    /// Read on ``queue`` and handed over in chunks of 1,000 lines, at most four ahead of `write`.
    package func exportAudit(_ format: AuditExport.Format, to write: (String) throws -> Void) async throws {
        let (chunks, sink) = AsyncThrowingStream<[String], any Error>.makeStream()
        let credits = DispatchSemaphore(value: 4)
        let stopped = StopFlag()
        let store = self.store
        Self.queue.async {
            var chunk: [String] = []
            do {
                try store.exportAudit(format) { line in
                    chunk.append(line)
                    guard chunk.count == 1_000 else { return }
                    credits.wait()
                    if stopped.isSet { throw CancellationError() }
                    sink.yield(chunk)
                    chunk = []
                }
                sink.yield(chunk)
                sink.finish()
            } catch {
                sink.finish(throwing: error)
            }
        }
        defer {
            // A writer that failed releases the reader, which then stops.
            stopped.set()
            for _ in 0..<5 { credits.signal() }
        }
        for try await chunk in chunks {
            for line in chunk { try write(line) }
            credits.signal()
        }
    }
    package func uncheckedExecute(_ sql: String) async throws { try await blocking { try $0.uncheckedExecute(sql) } }
    package func close() async {}

    package func subjects(
        _ pseudonyms: [String],
        in stream: DeliveryStream
    ) async throws -> [String: ReidentificationSubject] {
        try await store.subjects(pseudonyms, in: stream)
    }
    package func createReidentification(
        _ request: ReidentificationRequest,
        quota: Int,
        audit: AuditEvent,
        refused: @Sendable (Int) -> AuditEvent
    ) async throws -> Int? {
        try await store.createReidentification(request, quota: quota, audit: audit, refused: refused)
    }
    package func reidentification(_ id: String) async throws -> ReidentificationRequest? {
        try await store.reidentification(id)
    }
    package func reidentifications(
        state: ReidentificationState?,
        region: RegionNumber?,
        limit: Int
    ) async throws -> [ReidentificationRequest] {
        try await store.reidentifications(state: state, region: region, limit: limit)
    }
    package func changeReidentification(
        _ id: String,
        from: ReidentificationState,
        to change: @Sendable (inout ReidentificationRequest) -> Void,
        audit: @Sendable (ReidentificationRequest) -> AuditEvent
    ) async throws -> ReidentificationChange {
        try await store.changeReidentification(id, from: from, to: change, audit: audit)
    }
    package func overdueReidentifications(at now: Date, limit: Int) async throws -> [ReidentificationRequest] {
        try await store.overdueReidentifications(at: now, limit: limit)
    }
    package func reidentificationTallies() async throws -> [ReidentificationTally] {
        try await store.reidentificationTallies()
    }
    package func forgetIdentities(
        before cutoffs: [DatasetID: Date],
        audit: @escaping @Sendable (Int) -> AuditEvent
    ) async throws -> Int {
        try await store.forgetIdentities(before: cutoffs, audit: audit)
    }

    package func markCollected(_ stream: DeliveryStream, through seq: Int64, at time: Date) async throws {
        try await store.markCollected(stream, through: seq, at: time)
    }
    package func uncollected(purpose: PurposeID, deliveredBefore before: Date) async throws -> [RegionNumber: Int] {
        try await store.uncollected(purpose: purpose, deliveredBefore: before)
    }
}

/// Set once, read from another thread.
private final class StopFlag: Sendable {
    private let flag = Atomic(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}

extension RecordStore {
    /// Stages records (no withdrawals).
    package func stage(_ records: [RoutedRecord], into stage: StagingID) async throws {
        try await self.stage(records.map(StagedLine.record), into: stage)
    }

    /// Recomputes the chain with its stored checkpoints (signatures not checked).
    package func verifyAudit() async throws -> AuditVerdict { try await verifyAudit(held: [], key: nil) }

    /// Recomputes the chain with its stored checkpoints and checks their signatures with `key`.
    package func verifyAudit(key: SigningPublicKey) async throws -> AuditVerdict {
        try await verifyAudit(held: [], key: key)
    }

    /// Entries matching `filter` after entry `after`, oldest first.
    package func auditEntries(
        _ filter: AuditFilter,
        after: Int64 = 0,
        limit: Int = 100
    ) async throws -> [StoredAuditEntry] {
        try await auditEntries(filter, after: after, before: nil, newestFirst: false, limit: limit)
    }

    /// Entries matching `filter` before entry `before` (`nil`: from the newest), newest first.
    package func auditEntries(_ filter: AuditFilter, before: Int64?, limit: Int) async throws -> [StoredAuditEntry] {
        try await auditEntries(filter, after: 0, before: before, newestFirst: true, limit: limit)
    }

    /// The whole export in memory (for tests and small logs).
    package func exportAudit(_ format: AuditExport.Format) async throws -> [String] {
        var lines: [String] = []
        try await exportAudit(format) { lines.append($0) }
        return lines
    }

    /// Every audit event, in order (for summaries and tests).
    package func auditEvents() async throws -> [AuditEvent] {
        try await auditEntries(AuditFilter(), after: 0, limit: Int.max).map(\.event)
    }
}
