import AccessPolicy
import AuditLog
import BatchEnvelope
import Foundation
import NIOCore
import Pseudonymisation
import Records
import Storage
import VangnetCore
import VangnetCrypto

/// The push side of the data flow: envelope bytes in, a signed receipt out.
///
/// ```
/// bytes -> EnvelopeReader (header checks, decrypt) -> LineSplitter -> RecordValidator
///       -> Pseudonymiser -> route to region -> [finish: signature verified] -> one transaction
/// ```
/// Records are staged (invisible) while the envelope streams; nothing is committed before the
/// signature verifies and the final chunk decrypts. Every outcome, commit or refusal, is audited
/// here, and a failed audit write fails the push.
package struct IngestPipeline: Sendable {
    let state: GatewayState
    let keys: GatewayKeys
    let store: any RecordStore
    let limits: GatewayConfiguration.Limits
    let clock: any WallClock
    let reference: ReferenceData
    let metrics: GatewayMetrics
    let keeper: DeliveryKeeper

    /// What a push achieved.
    package enum Outcome: Sendable {
        /// Committed now (HTTP 201).
        case committed(SignedReceipt)
        /// An identical retry of a committed batch: the original receipt (HTTP 200).
        case duplicate(SignedReceipt)
    }

    /// Records buffered before they are written to the staging area.
    static let stagingBatchSize = 16_384

    /// Reads an envelope from `body` on behalf of `caller` and commits it or refuses it.
    ///
    /// Records are staged in the store while the bytes stream in, so memory stays bounded by one
    /// frame and one staging buffer, whatever the batch size.
    /// - Throws: ``GatewayRefusal`` for anything refused (already audited).
    package func ingest<Body: AsyncSequence>(_ body: Body, caller: Caller.Source) async throws -> Outcome
    where Body.Element == ByteBuffer {
        // One batch is read under one policy and one key epoch, even if a reload happens meanwhile.
        let active = state.current
        var batch = BatchInProgress(
            limits: limits,
            policy: active.policy,
            pseudonymiser: active.pseudonymiser,
            reference: reference
        )
        var stage: StagingID?
        let deadline = ContinuousClock.now + .seconds(limits.maxUploadSeconds)
        do {
            // At most one staging write runs while the next records are parsed: a child task of
            // this group, so none outlives the push (a refusal waits for it before discarding).
            let read = try await withThrowingTaskGroup(of: Void.self, returning: Read.self) { staging in
                var reader = EnvelopeReader(maxEnvelopeBytes: limits.maxEnvelopeBytes)
                var earlierCommit: (envelopeHash: [UInt8], receipt: SignedReceiptJSON)?
                var writing = false
                func flush(_ stage: StagingID) async throws {
                    let records = batch.takePending()
                    if writing { try await staging.next() }
                    staging.addTask { [store] in try await store.stage(records, into: stage) }
                    writing = true
                }
                var bytes = body.makeAsyncIterator()
                while let buffer = try await Self.next(&bytes) {
                    guard ContinuousClock.now <= deadline else {
                        throw GatewayRefusal(.uploadTooSlow, "the upload took longer than \(limits.maxUploadSeconds) s")
                    }
                    try buffer.withUnsafeReadableBytes { try reader.feed($0) }
                    while let event = try reader.next() {
                        switch event {
                        case .header(let header):
                            batch.name(header)
                            let (signingKey, schema) = try admit(header, caller: caller, policy: active.policy)
                            earlierCommit = try await store.committedBatch(
                                source: header.source,
                                batchId: header.batchId
                            )
                            if earlierCommit == nil {
                                stage = try await store.beginStaging(
                                    source: header.source,
                                    batchId: header.batchId,
                                    dataset: header.dataset,
                                    epoch: active.pseudonymiser.epoch,
                                    at: clock.now()
                                )
                            }
                            batch.start(schema: schema, mode: header.batchMode, keepRecords: earlierCommit == nil)
                            try reader.open(with: keys.box, signingKey: signingKey)
                        case .payload(let chunk):
                            try batch.consume(chunk)
                        }
                    }
                    if batch.pending.count >= Self.stagingBatchSize, let stage { try await flush(stage) }
                }
                let opened = try reader.finish()
                try batch.finish()
                guard batch.lineCount == opened.header.recordCount else {
                    throw GatewayRefusal(
                        .recordCountMismatch,
                        "the header announces \(opened.header.recordCount) records, the payload holds \(batch.lineCount)"
                    )
                }
                if let earlierCommit { return .retry(of: earlierCommit, opened) }
                guard let stage else { preconditionFailure("a verified batch without a staging area") }
                try await flush(stage)
                try await staging.waitForAll()
                return .staged(opened, stage)
            }
            switch read {
            case .retry(let earlier, let opened):
                return try await retry(of: earlier, opened: opened, batch: batch, caller: caller)
            case .staged(let opened, let stage):
                return try await commit(opened, stage: stage, batch: batch, caller: caller)
            }
        } catch {
            if let stage { try? await store.discard(stage) }
            let refusal: GatewayRefusal
            switch error {
            case let r as GatewayRefusal: refusal = r
            case let e as EnvelopeError: refusal = GatewayRefusal(e)
            default:
                metrics.batch("failed", dataset: batch.dataset)
                try? await store.appendAudit(
                    AuditEvent(
                        time: clock.now(),
                        actor: caller.oin,
                        role: caller.role,
                        action: .batchPush,
                        object: batch.object,
                        outcome: .failed,
                        reason: "internal_error",
                        dataset: batch.dataset
                    )
                )
                throw error
            }
            metrics.batch("refused", dataset: batch.dataset)
            try await store.appendAudit(
                AuditEvent(
                    time: clock.now(),
                    actor: caller.oin,
                    role: caller.role,
                    action: .batchPush,
                    object: batch.object,
                    outcome: .refused,
                    reason: refusal.code.rawValue,
                    dataset: batch.dataset
                )
            )
            throw refusal
        }
    }

    /// What reading a push's body ended in: a retry of a committed batch, or a batch staged whole.
    private enum Read {
        case retry(of: (envelopeHash: [UInt8], receipt: SignedReceiptJSON), OpenedBatch)
        case staged(OpenedBatch, StagingID)
    }

    /// The body's next bytes. An error here is the request's HTTP framing (a broken chunked
    /// encoding, for example): the client's fault, refused as such.
    private static func next<Bytes: AsyncIteratorProtocol>(_ bytes: inout Bytes) async throws -> ByteBuffer?
    where Bytes.Element == ByteBuffer {
        do {
            return try await bytes.next()
        } catch {
            throw GatewayRefusal(.bodyMalformed, "the request body could not be read: its HTTP framing is broken")
        }
    }

    /// A push of a batch id this source committed before: the same bytes get the first receipt,
    /// other bytes are a conflict. Nothing is staged or committed either way.
    private func retry(
        of earlier: (envelopeHash: [UInt8], receipt: SignedReceiptJSON),
        opened: OpenedBatch,
        batch: BatchInProgress,
        caller: Caller.Source
    ) async throws -> Outcome {
        guard earlier.envelopeHash == opened.envelopeHash else { throw Self.conflict(opened.header) }
        metrics.batch("duplicate", dataset: opened.header.dataset)
        try await store.appendAudit(
            AuditEvent(
                time: clock.now(),
                actor: caller.oin,
                role: caller.role,
                action: .batchRetry,
                object: batch.object,
                outcome: .success,
                dataset: batch.dataset
            )
        )
        return .duplicate(try JSONDecoder().decode(SignedReceipt.self, from: Data(earlier.receipt.utf8)))
    }

    static func conflict(_ header: EnvelopeHeader) -> GatewayRefusal {
        GatewayRefusal(
            .batchIdConflict,
            "batch \(header.batchId) was already committed with different contents; use a new batch id"
        )
    }

    /// Checks the claims of an (as yet unverified) header before any decryption.
    private func admit(
        _ header: EnvelopeHeader,
        caller: Caller.Source,
        policy: Policy
    ) throws -> (SigningPublicKey, DatasetSchema) {
        guard header.source == caller.oin else {
            throw GatewayRefusal(
                .sourceMismatch,
                "the envelope names source \(header.source), the client certificate \(caller.oin)"
            )
        }
        let key: SigningPublicKey
        let schema: DatasetSchema
        switch policy.mayPush(source: caller, dataset: header.dataset, keyID: header.signingKeyId) {
        case .deny(let denial): throw GatewayRefusal(denial)
        case .permit(let permit): (key, schema) = permit
        }
        guard header.schemaVersion == schema.version else {
            throw GatewayRefusal(
                .unsupportedSchemaVersion,
                "\(schema.id) is at version \(schema.version), the batch uses \(header.schemaVersion)"
            )
        }
        let skew = abs(header.createdAt.timeIntervalSince(clock.now()))
        guard skew <= Double(limits.creationWindowSeconds) else {
            throw GatewayRefusal(
                .batchOutsideTimeWindow,
                "the batch was created \(Int(skew)) s from the gateway's clock; the window is \(limits.creationWindowSeconds) s"
            )
        }
        guard header.recordCount <= limits.maxRecords else {
            throw GatewayRefusal(
                .tooManyRecords,
                "the batch announces \(header.recordCount) records; the limit is \(limits.maxRecords)"
            )
        }
        return (key, schema)
    }

    private func commit(
        _ opened: OpenedBatch,
        stage: StagingID,
        batch: BatchInProgress,
        caller: Caller.Source
    ) async throws -> Outcome {
        let header = opened.header
        let now = clock.now()
        let body = ReceiptBody(
            batchId: header.batchId,
            source: header.source,
            dataset: header.dataset,
            envelopeHash: Hex.encode(opened.envelopeHash),
            receivedAt: now,
            accepted: batch.acceptedCount,
            rejected: batch.rejections.count,
            rejections: batch.rejections,
            gatewayKeyId: keys.signing.publicKey.keyID
        )
        let receipt = try SignedReceipt(body: body, signingKey: keys.signing)
        let receiptJSON = String(decoding: try JSONEncoder().encode(receipt), as: UTF8.self)
        var tally = ["accepted": batch.acceptedCount, "rejected": batch.rejections.count, "bytes": opened.byteCount]
        for rejection in batch.rejections { tally["rejected." + rejection.reason.rawValue, default: 0] += 1 }
        let (object, dataset, base) = (batch.object, batch.dataset, tally)
        let active = state.current
        // A commit of a large batch leaves its allocations free in glibc's heaps; give them back.
        defer { ProcessMemory.releaseFreed() }
        switch try await store.commit(
            stage: stage,
            batch: opened,
            accepted: batch.acceptedCount,
            rejected: batch.rejections.count,
            receipt: receiptJSON,
            complete: header.batchMode == .full ? batch.keys : nil,
            rules: keeper.rules(for: active),
            day: CalendarDate.inAmsterdam(now),
            audit: { summary in
                var counts = base
                counts["added"] = summary.added
                counts["changed"] = summary.changed
                counts["unchanged"] = summary.unchanged
                counts["withdrawn"] = summary.withdrawn
                if summary.withdrawnUnknown > 0 { counts["withdrawn.unknown"] = summary.withdrawnUnknown }
                return AuditEvent(
                    time: now,
                    actor: caller.oin,
                    role: caller.role,
                    action: .batchPush,
                    object: object,
                    outcome: .success,
                    counts: counts,
                    dataset: dataset
                )
            }
        ) {
        case .committed:
            metrics.batch("committed", dataset: header.dataset)
            var rejected: [String: Int] = [:]
            for rejection in batch.rejections { rejected[rejection.reason.rawValue, default: 0] += 1 }
            metrics.records(accepted: batch.acceptedCount, rejected: rejected, dataset: header.dataset)
            return .committed(receipt)
        case .duplicate(let first):
            metrics.batch("duplicate", dataset: header.dataset)
            // A concurrent push of the same batch committed first.
            try await store.appendAudit(
                AuditEvent(
                    time: now,
                    actor: caller.oin,
                    role: caller.role,
                    action: .batchRetry,
                    object: batch.object,
                    outcome: .success,
                    dataset: batch.dataset
                )
            )
            return .duplicate(try JSONDecoder().decode(SignedReceipt.self, from: Data(first.utf8)))
        case .conflict:
            throw Self.conflict(header)
        }
    }
}

/// The records of a batch being read: validated, pseudonymised and routed as lines complete, and
/// handed in small groups to the staging area. The BSN of a line goes no further than ``take(_:_:)``.
struct BatchInProgress {
    private let limits: GatewayConfiguration.Limits
    private let policy: Policy
    private let pseudonymiser: Pseudonymiser
    private let reference: ReferenceData
    private var splitter: LineSplitter
    private var validator: RecordValidator?
    private var keepRecords = true
    /// Accepted lines not yet written to the staging area.
    private(set) var pending: [StagedLine] = []
    /// The keys of every accepted line: a second line for the same record is rejected, and for a
    /// complete picture they are the records it holds.
    private(set) var keys = Set<RecordKey>()
    private var mode = BatchMode.changes
    private(set) var acceptedCount = 0
    private(set) var rejections: [RecordRejection] = []
    private(set) var object = "batch:unread"
    /// The header's dataset, once read, if the gateway knows it (an unknown id is input and not recorded).
    private(set) var dataset: DatasetID?

    init(limits: GatewayConfiguration.Limits, policy: Policy, pseudonymiser: Pseudonymiser, reference: ReferenceData) {
        self.limits = limits
        self.policy = policy
        self.pseudonymiser = pseudonymiser
        self.reference = reference
        self.splitter = LineSplitter(maxLineBytes: limits.maxRecordBytes)
    }

    var lineCount: Int { acceptedCount + rejections.count }

    /// Hands over the pending records for staging.
    mutating func takePending() -> [StagedLine] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    /// `keepRecords: false` validates without keeping records (a retry of a committed batch).
    mutating func start(schema: DatasetSchema, mode: BatchMode, keepRecords: Bool) {
        self.keepRecords = keepRecords
        self.mode = mode
        validator = RecordValidator(schema: schema, reference: reference, maxRecordBytes: limits.maxRecordBytes)
    }

    mutating func name(_ header: EnvelopeHeader) {
        object = "batch:\(header.source)/\(header.batchId)"
        dataset = policy.schema(header.dataset) != nil ? header.dataset : nil
    }

    mutating func consume(_ chunk: [UInt8]) throws {
        guard let validator else { preconditionFailure("payload before the header was admitted") }
        // The splitter is moved out while it calls back into `take`, which mutates self.
        var lines = LineSplitter(maxLineBytes: 0)
        swap(&lines, &splitter)
        defer { swap(&lines, &splitter) }
        try chunk.withUnsafeBytes { bytes in try lines.feed(bytes) { try take($0, validator) } }
    }

    mutating func finish() throws {
        guard let validator else { return }
        var lines = LineSplitter(maxLineBytes: 0)
        swap(&lines, &splitter)
        defer { swap(&lines, &splitter) }
        try lines.finish { try take($0, validator) }
    }

    private mutating func take(_ line: LineSplitter.Line, _ validator: RecordValidator) throws {
        guard lineCount < limits.maxRecords else {
            throw GatewayRefusal(.tooManyRecords, "the payload holds more than \(limits.maxRecords) records")
        }
        switch line {
        case .oversized(let number):
            rejections.append(RecordRejection(line: number, reason: .recordTooLarge))
        case .line(let bytes, let number):
            let validated: Result<ValidatedLine, RecordRejection> =
                switch mode {
                case .full: validator.validate(line: bytes, number: number).map(ValidatedLine.record)
                case .changes: validator.validateChange(line: bytes, number: number)
                }
            let line: StagedLine
            switch validated {
            case .success(.record(let record)):
                // The validator checked the municipality against the CBS list, and the policy
                // checks put every municipality of that list in exactly one region.
                guard let region = policy.region(of: record.municipality) else {
                    rejections.append(
                        RecordRejection(
                            line: record.line,
                            reason: .unknownMunicipality,
                            field: validator.schema.municipalityField
                        )
                    )
                    return
                }
                line = .record(RoutedRecord(record: pseudonymiser.pseudonymise(record), region: region))
            case .success(.withdrawal(let withdrawal)):
                line = .withdrawal(pseudonymiser.pseudonymise(withdrawal))
            case .failure(let rejection):
                rejections.append(rejection)
                return
            }
            let key: RecordKey =
                switch line {
                case .record(let r): r.record.key
                case .withdrawal(let w): w.key
                }
            guard keys.insert(key).inserted else {
                rejections.append(RecordRejection(line: number, reason: .duplicateRecord))
                return
            }
            acceptedCount += 1
            if keepRecords { pending.append(line) }
        }
    }
}
