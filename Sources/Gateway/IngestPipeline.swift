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
/// Nothing is committed before the signature verifies and the final chunk decrypts. Every
/// outcome, commit or refusal, is audited here, and a failed audit write fails the push.
public struct IngestPipeline: Sendable {
    let policy: Policy
    let keys: GatewayKeys
    let pseudonymiser: Pseudonymiser
    let store: SQLiteStore
    let limits: GatewayConfiguration.Limits
    let clock: any WallClock
    let reference: ReferenceData

    /// What a push achieved.
    public enum Outcome: Sendable {
        /// Committed now (HTTP 201).
        case committed(SignedReceipt)
        /// An identical retry of a committed batch: the original receipt (HTTP 200).
        case duplicate(SignedReceipt)
    }

    /// Reads an envelope from `body` on behalf of `caller` and commits it or refuses it.
    /// - Throws: ``GatewayRefusal`` for anything refused (already audited).
    public func ingest<Body: AsyncSequence>(_ body: Body, caller: PolicyDocument.Organisation) async throws -> Outcome
    where Body.Element == ByteBuffer {
        var batch = BatchInProgress(limits: limits, pseudonymiser: pseudonymiser, reference: reference)
        var reader = EnvelopeReader(maxEnvelopeBytes: limits.maxEnvelopeBytes)
        do {
            for try await buffer in body {
                var header: EnvelopeHeader?
                try buffer.withUnsafeReadableBytes { bytes in
                    try reader.feed(bytes) { event in
                        switch event {
                        case .header(let h): header = h
                        case .payload(let chunk): try batch.consume(chunk)
                        }
                    }
                }
                if let header {
                    batch.name(header)
                    let (signingKey, schema) = try admit(header, caller: caller)
                    batch.start(schema: schema)
                    try reader.open(with: keys.box, signingKey: signingKey) { event in
                        if case .payload(let chunk) = event { try batch.consume(chunk) }
                    }
                }
            }
            let opened = try reader.finish()
            try batch.finish()
            guard batch.lineCount == opened.header.recordCount else {
                throw GatewayRefusal(status: 422, code: "record_count_mismatch",
                                     message: "the header announces \(opened.header.recordCount) records, the payload holds \(batch.lineCount)")
            }
            return try commit(opened, batch: batch, caller: caller)
        } catch let refusal as GatewayRefusal {
            try audit(refusal: refusal, caller: caller, object: batch.object)
            throw refusal
        } catch let error as EnvelopeError {
            let refusal = GatewayRefusal(status: error.code == .tooLarge ? 413 : 400, code: error.code.description, message: error.reason)
            try audit(refusal: refusal, caller: caller, object: batch.object)
            throw refusal
        }
    }

    /// Checks the claims of an (as yet unverified) header before any decryption.
    private func admit(_ header: EnvelopeHeader, caller: PolicyDocument.Organisation) throws -> (SigningPublicKey, DatasetSchema) {
        guard header.source == caller.oin else {
            throw GatewayRefusal(status: 403, code: Denial.Code.sourceMismatch.rawValue,
                                 message: "the envelope names source \(header.source), the client certificate \(caller.oin)")
        }
        let key: SigningPublicKey, schema: DatasetSchema
        switch policy.mayPush(source: caller, dataset: header.dataset, keyID: header.signingKeyId) {
        case .deny(let denial): throw GatewayRefusal(status: 403, code: denial.code.rawValue, message: denial.reason)
        case .permit(let permit): (key, schema) = permit
        }
        guard header.schemaVersion == schema.version else {
            throw GatewayRefusal(status: 422, code: "unsupported_schema_version", message: "\(schema.id) is at version \(schema.version), the batch uses \(header.schemaVersion)")
        }
        let skew = abs(header.createdAt.timeIntervalSince(clock.now()))
        guard skew <= Double(limits.creationWindowSeconds) else {
            throw GatewayRefusal(status: 422, code: "batch_outside_time_window",
                                 message: "the batch was created \(Int(skew)) s from the gateway's clock; the window is \(limits.creationWindowSeconds) s")
        }
        guard header.recordCount <= limits.maxRecords else {
            throw GatewayRefusal(status: 413, code: "too_many_records", message: "the batch announces \(header.recordCount) records; the limit is \(limits.maxRecords)")
        }
        return (key, schema)
    }

    private func commit(_ opened: OpenedBatch, batch: BatchInProgress, caller: PolicyDocument.Organisation) throws -> Outcome {
        let header = opened.header
        let now = clock.now()
        let records = batch.accepted
        let body = ReceiptBody(
            batchId: header.batchId, source: header.source, dataset: header.dataset, envelopeHash: Hex.encode(opened.envelopeHash),
            receivedAt: now, accepted: records.count, rejected: batch.rejections.count, rejections: batch.rejections,
            gatewayKeyId: keys.signing.publicKey.keyID
        )
        let receipt = try SignedReceipt(body: body, signingKey: keys.signing)
        let receiptJSON = String(decoding: try JSONEncoder().encode(receipt), as: UTF8.self)
        var counts = ["accepted": records.count, "rejected": batch.rejections.count, "bytes": opened.byteCount]
        for rejection in batch.rejections { counts["rejected." + rejection.reason.rawValue, default: 0] += 1 }
        let event = AuditEvent(time: now, actor: caller.oin, role: caller.role, action: .batchPush, object: batch.object,
                               outcome: .success, counts: counts)
        switch try store.commit(batch: opened, records: records, accepted: records.count, rejected: batch.rejections.count,
                                receipt: receiptJSON, audit: event) {
        case .committed:
            return .committed(receipt)
        case .duplicate(let first):
            try store.appendAudit(AuditEvent(time: now, actor: caller.oin, role: caller.role, action: .batchRetry, object: batch.object, outcome: .success))
            return .duplicate(try JSONDecoder().decode(SignedReceipt.self, from: Data(first.utf8)))
        case .conflict:
            throw GatewayRefusal(status: 409, code: "batch_id_conflict",
                                 message: "batch \(header.batchId) was already committed with different contents; use a new batch id")
        }
    }

    private func audit(refusal: GatewayRefusal, caller: PolicyDocument.Organisation, object: String) throws {
        try store.appendAudit(AuditEvent(time: clock.now(), actor: caller.oin, role: caller.role, action: .batchPush,
                                         object: object, outcome: .refused, reason: refusal.code))
    }
}

/// The records of a batch being read: validated, pseudonymised and routed as lines complete, and
/// held until the signature verifies. The BSN of a line goes no further than ``take(_:_:)``.
struct BatchInProgress {
    private let limits: GatewayConfiguration.Limits
    private let pseudonymiser: Pseudonymiser
    private let reference: ReferenceData
    private var splitter: LineSplitter
    private var validator: RecordValidator?
    private(set) var accepted: [RoutedRecord] = []
    private(set) var rejections: [RecordRejection] = []
    private(set) var object = "batch:unread"

    init(limits: GatewayConfiguration.Limits, pseudonymiser: Pseudonymiser, reference: ReferenceData) {
        self.limits = limits
        self.pseudonymiser = pseudonymiser
        self.reference = reference
        self.splitter = LineSplitter(maxLineBytes: limits.maxRecordBytes)
    }

    var lineCount: Int { accepted.count + rejections.count }

    mutating func start(schema: DatasetSchema) {
        validator = RecordValidator(schema: schema, reference: reference, maxRecordBytes: limits.maxRecordBytes)
    }

    mutating func name(_ header: EnvelopeHeader) { object = "batch:\(header.source)/\(header.batchId)" }

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
            throw GatewayRefusal(status: 413, code: "too_many_records", message: "the payload holds more than \(limits.maxRecords) records")
        }
        switch line {
        case .oversized(let number):
            rejections.append(RecordRejection(line: number, reason: .recordTooLarge))
        case .line(let bytes, let number):
            switch validator.validate(line: bytes, number: number) {
            case .success(let record):
                // The validator checked the municipality against the same reference data.
                let region = reference.region(of: record.municipality)!
                accepted.append(RoutedRecord(record: pseudonymiser.pseudonymise(record), region: region))
            case .failure(let rejection): rejections.append(rejection)
            }
        }
    }
}
