import AuditLog
import BatchEnvelope
import Foundation
import VangnetCore
import VangnetCrypto

/// What the gateway needs of a store, whatever the database: staging and committing batches,
/// reading records in delivery order, and the audit chain. Two implementations pass one
/// behavioural test suite: ``SQLiteRecordStore`` (embedded, the default) and `PostgresStore`
/// (several gateway instances on one PostgreSQL).
///
/// The invariants are those of ``SQLiteStore``: a staged batch is invisible until its commit; a
/// commit makes it visible with its receipt and audit entry in one transaction, or not at all;
/// one commit per (source, batch id); delivery order is commit order, then region and line.
public protocol RecordStore: Sendable {
    func beginStaging(source: OIN, batchId: BatchID, dataset: DatasetID, epoch: UInt32, at time: Date) async throws -> StagingID
    func stage(_ records: [RoutedRecord], into stage: StagingID) async throws
    func discard(_ stage: StagingID) async throws
    func commit(stage: StagingID, batch: OpenedBatch, accepted: Int, rejected: Int, receipt: SignedReceiptJSON, audit: AuditEvent) async throws -> BatchCommitOutcome
    /// Drops the staging areas of interrupted batches; returns how many.
    func discardInterruptedBatches() async throws -> Int
    func counts() async throws -> (batches: Int, records: Int)
    /// Rows in the records table, committed or staged.
    func storedRecordRows() async throws -> Int
    /// Committed records of `dataset` in `region`.
    func records(dataset: DatasetID, region: RegionNumber) async throws -> [StoredRecord]
    /// Committed records after `cursor` in delivery order, offered to `accept` until it took `limit`.
    func scanRecords(after cursor: DeliveryCursor, datasets: [DatasetID], limit: Int, accept: @Sendable (StoredRecord) -> Bool) async throws -> [StoredRecord]
    func appendAudit(_ event: AuditEvent) async throws
    /// Recomputes the chain with its stored checkpoints, the auditor's `held` ones and (given
    /// `key`) their signatures.
    func verifyAudit(held: [AuditCheckpoint], key: SigningPublicKey?) async throws -> AuditVerdict
    /// Signs a checkpoint of the chain's head now, unless it has one (needs audit signing).
    func checkpointAudit(at time: Date) async throws -> AuditCheckpoint?
    func auditCheckpoints() async throws -> [AuditCheckpoint]
    /// Audit entries matching `filter`: after entry `after` in order, or with `newestFirst` before
    /// entry `before`, newest first; at most `limit`.
    func auditEntries(_ filter: AuditFilter, after: Int64, before: Int64?, newestFirst: Bool, limit: Int) async throws -> [StoredAuditEntry]
    /// The audit log, checkpoints first, as lines of `format` (``AuditExport``).
    func exportAudit(_ format: AuditExport.Format) async throws -> [String]
    /// Removes the records of committed batches of each dataset committed before its cutoff; the
    /// purge and (if anything was removed) its audit entry are one transaction.
    func purge(before cutoffs: [DatasetID: Date], audit: @Sendable (PurgeResult) -> AuditEvent) async throws -> PurgeResult
    /// Runs raw SQL, for tests that tamper with the store. Bypasses every invariant.
    func uncheckedExecute(_ sql: String) async throws
}

/// The embedded SQLite store as a ``RecordStore``.
public struct SQLiteRecordStore: RecordStore {
    public let store: SQLiteStore
    public init(_ store: SQLiteStore) { self.store = store }

    public func beginStaging(source: OIN, batchId: BatchID, dataset: DatasetID, epoch: UInt32, at time: Date) async throws -> StagingID {
        try await store.beginStaging(source: source, batchId: batchId, dataset: dataset, epoch: epoch, at: time)
    }
    public func stage(_ records: [RoutedRecord], into stage: StagingID) async throws { try await store.stage(records, into: stage) }
    public func discard(_ stage: StagingID) async throws { try await store.discard(stage) }
    public func commit(stage: StagingID, batch: OpenedBatch, accepted: Int, rejected: Int, receipt: SignedReceiptJSON, audit: AuditEvent) async throws -> BatchCommitOutcome {
        try await store.commit(stage: stage, batch: batch, accepted: accepted, rejected: rejected, receipt: receipt, audit: audit)
    }
    public func discardInterruptedBatches() async throws -> Int { try store.discardInterruptedBatches() }
    public func counts() async throws -> (batches: Int, records: Int) { try store.counts() }
    public func storedRecordRows() async throws -> Int { try store.storedRecordRows() }
    public func records(dataset: DatasetID, region: RegionNumber) async throws -> [StoredRecord] {
        var out: [StoredRecord] = []
        try store.forEachRecord(dataset: dataset, region: region) { out.append($0) }
        return out
    }
    public func scanRecords(after cursor: DeliveryCursor, datasets: [DatasetID], limit: Int, accept: @Sendable (StoredRecord) -> Bool) async throws -> [StoredRecord] {
        try store.scanRecords(after: cursor, datasets: datasets, limit: limit, accept: accept)
    }
    public func appendAudit(_ event: AuditEvent) async throws { try store.appendAudit(event) }
    public func verifyAudit(held: [AuditCheckpoint], key: SigningPublicKey?) async throws -> AuditVerdict { try store.verifyAudit(held: held, key: key) }
    public func checkpointAudit(at time: Date) async throws -> AuditCheckpoint? { try store.checkpointAudit(at: time) }
    public func auditCheckpoints() async throws -> [AuditCheckpoint] { try store.auditCheckpoints() }
    public func purge(before cutoffs: [DatasetID: Date], audit: @Sendable (PurgeResult) -> AuditEvent) async throws -> PurgeResult {
        try store.purge(before: cutoffs, audit: audit)
    }
    public func auditEntries(_ filter: AuditFilter, after: Int64, before: Int64?, newestFirst: Bool, limit: Int) async throws -> [StoredAuditEntry] {
        try store.auditEntries(filter, after: after, before: before, newestFirst: newestFirst, limit: limit)
    }
    public func exportAudit(_ format: AuditExport.Format) async throws -> [String] {
        var lines: [String] = []
        try store.exportAudit(format) { lines.append($0) }
        return lines
    }
    public func uncheckedExecute(_ sql: String) async throws { try store.uncheckedExecute(sql) }
}

extension RecordStore {
    /// Recomputes the chain with its stored checkpoints (signatures not checked).
    public func verifyAudit() async throws -> AuditVerdict { try await verifyAudit(held: [], key: nil) }
}
