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
    /// A push moves through three states, each a function below: awaiting the header (read and
    /// admitted before anything is decrypted), then either staging a new batch (records written
    /// to the store, invisible, while the bytes stream in, so memory stays bounded by one frame and
    /// one staging buffer) or replaying a batch id committed before (lines counted, nothing kept,
    /// the envelope hash compared at the end).
    /// - Throws: ``GatewayRefusal`` for anything refused (already audited).
    package func ingest<Body: AsyncSequence>(_ body: Body, caller: Caller.Source) async throws -> Outcome
    where Body.Element == ByteBuffer {
        var name = BatchName()
        do {
            return try await read(
                PushBody(body.makeAsyncIterator(), limits: limits),
                caller: caller,
                naming: &name
            )
        } catch let refusal as GatewayRefusal {
            try await audit(.refused, refusal.code, of: name, caller: caller)
            throw refusal
        } catch {
            // The fault itself is what the caller learns of; a failed audit write must not hide it.
            try? await audit(.failed, .internalError, of: name, caller: caller)
            throw error
        }
    }

    /// Awaiting the header: admits it (source, dataset, key, schema version, time, size) and
    /// goes on to stage a new batch or replay a committed one.
    private func read<Bytes>(
        _ body: consuming PushBody<Bytes>,
        caller: Caller.Source,
        naming name: inout BatchName
    ) async throws -> Outcome {
        // One batch is read under one policy and one key epoch, even if a reload happens meanwhile.
        let active = state.current
        let header = try await body.header()
        name = BatchName(header, policy: active.policy)
        let (signingKey, schema) = try admit(header, caller: caller, policy: active.policy)
        let earlier = try await store.committedBatch(source: header.source, batchId: header.batchId)
        try body.open(with: keys.box, signingKey: signingKey)
        if let earlier {
            return try await replay(body, of: earlier, caller: caller, name: name)
        }
        let stage = try await store.beginStaging(
            source: header.source,
            batchId: header.batchId,
            dataset: header.dataset,
            epoch: active.pseudonymiser.epoch,
            at: clock.now()
        )
        do {
            var batch = BatchInProgress(
                schema: schema,
                mode: header.batchMode,
                createdOn: CalendarDate.inAmsterdam(header.createdAt),
                limits: limits,
                policy: active.policy,
                pseudonymiser: active.pseudonymiser,
                identities: active.policy.reidentifyingDatasets.contains(header.dataset) ? active.identities : nil,
                institutions: caller.institutions,
                reference: reference
            )
            let opened = try await self.stage(body, into: stage, batch: &batch)
            return try await commit(opened, stage: stage, batch: batch, caller: caller, name: name)
        } catch {
            try? await store.discard(stage)
            throw error
        }
    }

    /// Staging a new batch: every record validated, pseudonymised and routed as its line
    /// completes, and written to the staging area in groups. At most one write is in flight while
    /// the next records are read: a child task of this group, so none outlives the push.
    private func stage<Bytes>(
        _ body: consuming PushBody<Bytes>,
        into stage: StagingID,
        batch: inout BatchInProgress
    ) async throws -> OpenedBatch {
        try await withThrowingTaskGroup(of: Void.self) { writes in
            func write(_ records: [StagedLine]) async throws {
                try await writes.next()  // the write before, if one is in flight
                writes.addTask { [store] in try await store.stage(records, into: stage) }
            }
            while let chunk = try await body.nextChunk() {
                try batch.consume(chunk)
                if batch.pending.count >= Self.stagingBatchSize { try await write(batch.takePending()) }
            }
            try batch.finish()
            try await write(batch.takePending())
            try await writes.waitForAll()
        }
        let opened = try body.finish()
        try Self.check(count: batch.lineCount, of: opened)
        return opened
    }

    /// Replaying a batch id this source committed before: its lines are counted (a retry answers
    /// as the first push did), nothing is kept, and the end compares the envelope's hash.
    private func replay<Bytes>(
        _ body: consuming PushBody<Bytes>,
        of earlier: (envelopeHash: [UInt8], receipt: SignedReceiptJSON),
        caller: Caller.Source,
        name: BatchName
    ) async throws -> Outcome {
        var lines = LineSplitter(maxLineBytes: limits.maxRecordBytes)
        var count = 0
        func countLines() throws(GatewayRefusal) {
            while lines.next() != nil {
                count += 1
                guard count <= limits.maxRecords else { throw BatchInProgress.tooManyRecords(limits) }
            }
        }
        while let chunk = try await body.nextChunk() {
            lines.feed(chunk)
            try countLines()
        }
        lines.finish()
        try countLines()
        let opened = try body.finish()
        try Self.check(count: count, of: opened)
        return try await retry(of: earlier, opened: opened, caller: caller, name: name)
    }

    /// The lines read must be the records the header announced.
    private static func check(count: Int, of opened: OpenedBatch) throws(GatewayRefusal) {
        guard count == opened.header.recordCount else {
            throw GatewayRefusal(
                .recordCountMismatch,
                "the header announces \(opened.header.recordCount) records, the payload holds \(count)"
            )
        }
    }

    /// A push that did not commit: refused (the client's input) or failed (the gateway's fault).
    private func audit(
        _ outcome: AuditEvent.Outcome,
        _ code: GatewayRefusal.Code,
        of name: BatchName,
        caller: Caller.Source
    ) async throws {
        metrics.batch(outcome == .refused ? "refused" : "failed", dataset: name.dataset)
        try await store.appendAudit(
            AuditEvent(
                time: clock.now(),
                actor: caller.oin,
                role: caller.role,
                action: .batchPush,
                object: name.object,
                outcome: outcome,
                reason: code.rawValue,
                dataset: name.dataset
            )
        )
    }

    /// A push of a batch id this source committed before: the same bytes get the first receipt,
    /// other bytes are a conflict. Nothing is staged or committed either way.
    private func retry(
        of earlier: (envelopeHash: [UInt8], receipt: SignedReceiptJSON),
        opened: OpenedBatch,
        caller: Caller.Source,
        name: BatchName
    ) async throws -> Outcome {
        guard earlier.envelopeHash == opened.envelopeHash else { throw Self.conflict(opened.header) }
        metrics.batch("duplicate", dataset: opened.header.dataset)
        try await store.appendAudit(
            AuditEvent(
                time: clock.now(),
                actor: caller.oin,
                role: caller.role,
                action: .batchRetry,
                object: name.object,
                outcome: .success,
                dataset: name.dataset
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
        let versions: [DatasetSchema]
        switch policy.mayPush(source: caller, dataset: header.dataset, keyID: header.signingKeyId) {
        case .deny(let denial): throw GatewayRefusal(denial)
        case .permit(let permit): (key, versions) = permit
        }
        guard let schema = versions.first(where: { $0.version == header.schemaVersion }) else {
            let held = versions.map { String($0.version) }.joined(separator: ", ")
            throw GatewayRefusal(
                .unsupportedSchemaVersion,
                "the gateway holds \(header.dataset) at version \(held); the batch uses \(header.schemaVersion)"
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
        caller: Caller.Source,
        name: BatchName
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
        let (object, dataset, base) = (name.object, name.dataset, tally)
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
                    object: name.object,
                    outcome: .success,
                    dataset: name.dataset
                )
            )
            return .duplicate(try JSONDecoder().decode(SignedReceipt.self, from: Data(first.utf8)))
        case .conflict:
            throw Self.conflict(header)
        }
    }
}

/// What a push is audited under: `batch:unread` until its header is read, then its source and
/// batch id, and the dataset if the gateway knows it (an unknown id is input and not recorded).
struct BatchName: Sendable {
    private(set) var object = "batch:unread"
    private(set) var dataset: DatasetID?

    init() {}

    init(_ header: EnvelopeHeader, policy: Policy) {
        object = "batch:\(header.source)/\(header.batchId)"
        dataset = policy.schema(header.dataset) != nil ? header.dataset : nil
    }
}

/// A push's body as the envelope reader's events, bytes pulled from the request as the reader
/// needs them, within the upload's time limit.
struct PushBody<Bytes: AsyncIteratorProtocol>: ~Copyable where Bytes.Element == ByteBuffer {
    private var bytes: Bytes
    private var reader: EnvelopeReader
    private let deadline: ContinuousClock.Instant
    private let maxSeconds: Int

    init(_ bytes: Bytes, limits: GatewayConfiguration.Limits) {
        self.bytes = bytes
        self.reader = EnvelopeReader(maxEnvelopeBytes: limits.maxEnvelopeBytes)
        self.maxSeconds = limits.maxUploadSeconds
        self.deadline = ContinuousClock.now + .seconds(limits.maxUploadSeconds)
    }

    /// The envelope's header, not yet checked by anyone but the reader.
    mutating func header() async throws(GatewayRefusal) -> EnvelopeHeader {
        switch try await next() {
        case .header(let header): return header
        case .payload: preconditionFailure("the reader yields the header first")
        case nil: throw GatewayRefusal(reader.endedTooSoon())
        }
    }

    /// Opens the payload with the keys the admitted header called for.
    mutating func open(with recipient: BoxKeyPair, signingKey: SigningPublicKey) throws(GatewayRefusal) {
        do { try reader.open(with: recipient, signingKey: signingKey) } catch { throw GatewayRefusal(error) }
    }

    /// The next decrypted (unverified) payload chunk, or nil once the body has ended.
    mutating func nextChunk() async throws(GatewayRefusal) -> [UInt8]? {
        switch try await next() {
        case .payload(let chunk): return chunk
        case .header: preconditionFailure("an envelope has one header")
        case nil: return nil
        }
    }

    /// Verifies the signature, once every chunk has been read.
    consuming func finish() throws(GatewayRefusal) -> OpenedBatch {
        do { return try reader.finish() } catch { throw GatewayRefusal(error) }
    }

    private mutating func next() async throws(GatewayRefusal) -> EnvelopeReader.Event? {
        while true {
            do {
                if let event = try reader.next() { return event }
            } catch {
                throw GatewayRefusal(error)
            }
            let buffer: ByteBuffer?
            do {
                buffer = try await bytes.next()
            } catch {
                // The request's HTTP framing (a broken chunked encoding, for example): the client's fault.
                throw GatewayRefusal(.bodyMalformed, "the request body could not be read: its HTTP framing is broken")
            }
            guard let buffer else { return nil }
            guard ContinuousClock.now <= deadline else {
                throw GatewayRefusal(.uploadTooSlow, "the upload took longer than \(maxSeconds) s")
            }
            do {
                try buffer.withUnsafeReadableBytes { bytes throws(EnvelopeError) in try reader.feed(bytes) }
            } catch {
                throw GatewayRefusal(error)
            }
        }
    }
}

/// The records of a new batch as its lines complete: validated, pseudonymised and routed, and
/// handed in groups to the staging area. The BSN of a line goes no further than ``take(_:)``.
struct BatchInProgress {
    private let limits: GatewayConfiguration.Limits
    private let policy: Policy
    private let pseudonymiser: Pseudonymiser
    /// Seals each record's BSN into its stored fields, for a dataset a re-identifying purpose delivers.
    private let identities: IdentityVault?
    private let validator: RecordValidator
    private let mode: BatchMode
    private var splitter: LineSplitter
    /// Accepted lines not yet written to the staging area.
    private(set) var pending: [StagedLine] = []
    /// The keys of every accepted line: a second line for the same record is rejected, and for a
    /// complete picture they are the records it holds.
    private(set) var keys = Set<RecordKey>()
    private(set) var acceptedCount = 0
    private(set) var rejections: [RecordRejection] = []

    init(
        schema: DatasetSchema,
        mode: BatchMode,
        createdOn: CalendarDate,
        limits: GatewayConfiguration.Limits,
        policy: Policy,
        pseudonymiser: Pseudonymiser,
        identities: IdentityVault? = nil,
        institutions: [String]? = nil,
        reference: ReferenceData
    ) {
        self.limits = limits
        self.policy = policy
        self.pseudonymiser = pseudonymiser
        self.identities = identities
        self.mode = mode
        self.validator = RecordValidator(
            schema: schema,
            reference: reference,
            maxRecordBytes: limits.maxRecordBytes,
            createdOn: createdOn,
            institutions: institutions
        )
        self.splitter = LineSplitter(maxLineBytes: limits.maxRecordBytes)
    }

    var lineCount: Int { acceptedCount + rejections.count }

    static func tooManyRecords(_ limits: GatewayConfiguration.Limits) -> GatewayRefusal {
        GatewayRefusal(.tooManyRecords, "the payload holds more than \(limits.maxRecords) records")
    }

    /// Hands over the pending records for staging.
    mutating func takePending() -> [StagedLine] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    /// Takes the lines that `chunk` completes.
    mutating func consume(_ chunk: [UInt8]) throws(GatewayRefusal) {
        splitter.feed(chunk)
        while let line = splitter.next() { try take(line) }
    }

    /// Takes the last line, which may have no newline.
    mutating func finish() throws(GatewayRefusal) {
        splitter.finish()
        while let line = splitter.next() { try take(line) }
    }

    private mutating func take(_ line: LineSplitter.Line) throws(GatewayRefusal) {
        guard lineCount < limits.maxRecords else { throw Self.tooManyRecords(limits) }
        switch line {
        case .oversized(let number):
            rejections.append(RecordRejection(line: number, reason: .recordTooLarge))
        case .line(let bytes, let number):
            let validated: Result<ValidatedLine, RecordRejection> = bytes.withUnsafeBytes { bytes in
                switch mode {
                case .full: validator.validate(line: bytes, number: number).map(ValidatedLine.record)
                case .changes: validator.validateChange(line: bytes, number: number)
                }
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
                line = .record(
                    RoutedRecord(
                        record: pseudonymiser.pseudonymise(record, keepingIdentityIn: identities),
                        region: region
                    )
                )
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
            pending.append(line)
        }
    }
}
