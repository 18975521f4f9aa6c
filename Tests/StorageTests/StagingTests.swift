import AuditLog
import BatchEnvelope
import Foundation
import Pseudonymisation
import Records
import Storage
import Testing
import VangnetCore
import VangnetCrypto

/// Staging: a batch's records are invisible until its commit, and a batch commits once.
@Suite struct StagingTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vangnet-store-\(UUID().uuidString)")
    let source = OIN("00000099000000000101")!
    let signer = SigningKeyPair.generate()
    let gatewayBox = BoxKeyPair.generate()
    let pseudonymiser = try! Pseudonymiser(keys: PseudonymKeys(root: .random(count: 32), epoch: 1))

    func openStore() throws -> SQLiteStore {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
    }

    /// `n` routed records of synthetic people in Utrecht.
    func records(_ n: Int, seed: UInt64) throws -> [RoutedRecord] {
        var synth = SyntheticRecords(seed: seed)
        let validator = RecordValidator(schema: .uwvInkomstenverhoudingen)
        return try synth.people(n, in: [MunicipalityCode("GM0344")!]).enumerated().map { i, person in
            let record = try validator.validate(line: synth.uwvLine(for: person), number: i + 1).get()
            return RoutedRecord(record: pseudonymiser.pseudonymise(record), region: RegionNumber(19)!)
        }
    }

    /// A verified batch with the given id, as the envelope reader hands it over.
    func opened(_ id: BatchID, payload: String = "x\n") throws -> OpenedBatch {
        let envelope = try EnvelopeSealer(source: source, signingKey: signer, recipient: gatewayBox.publicKey)
            .seal(payload: Array(payload.utf8), batchId: id, dataset: "uwv.inkomstenverhoudingen", createdAt: Date(), recordCount: 1)
        var reader = EnvelopeReader(maxEnvelopeBytes: 1 << 20)
        var headerSeen = false
        try envelope.withUnsafeBytes { try reader.feed($0) { if case .header = $0 { headerSeen = true } } }
        #expect(headerSeen)
        try reader.open(with: gatewayBox, signingKey: signer.publicKey) { _ in }
        return try reader.finish()
    }

    func event(_ object: String) -> AuditEvent {
        AuditEvent(time: Date(), actor: source, role: .source, action: .batchPush, object: object, outcome: .success)
    }

    func visible(_ store: SQLiteStore) throws -> [StoredRecord] {
        try store.scanRecords(after: .start, datasets: ["uwv.inkomstenverhoudingen"], limit: 1_000_000) { _ in true }
    }

    @Test func stagedRecordsAreInvisibleUntilCommit() async throws {
        let store = try openStore()
        let id = BatchID()
        let stage = try await store.beginStaging(source: source, batchId: id, dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
        try await store.stage(try records(50, seed: 1), into: stage)
        #expect(try visible(store).isEmpty)
        #expect(try store.counts() == (batches: 0, records: 0))
        let outcome = try await store.commit(stage: stage, batch: try opened(id), accepted: 50, rejected: 0, receipt: "r", audit: event("b"))
        guard case .committed = outcome else { Issue.record("not committed"); return }
        #expect(try visible(store).count == 50)
    }

    @Test func discardedStagingLeavesNothing() async throws {
        let store = try openStore()
        let stage = try await store.beginStaging(source: source, batchId: BatchID(), dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
        try await store.stage(try records(20, seed: 2), into: stage)
        try await store.discard(stage)
        #expect(try store.storedRecordRows() == 0)
    }

    @Test func stagingLeftByACrashIsDiscardedAtTheNextStart() async throws {
        do {
            let store = try openStore()
            let stage = try await store.beginStaging(source: source, batchId: BatchID(), dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
            try await store.stage(try records(30, seed: 3), into: stage)
        }
        let reopened = try openStore()
        #expect(try reopened.storedRecordRows() == 30)
        #expect(try reopened.discardInterruptedBatches() == 1)
        #expect(try reopened.storedRecordRows() == 0)
    }

    @Test func secondCommitOfABatchIsADuplicateOrAConflict() async throws {
        let store = try openStore()
        let id = BatchID()
        let batch = try opened(id)
        let first = try await store.beginStaging(source: source, batchId: id, dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
        let second = try await store.beginStaging(source: source, batchId: id, dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
        let third = try await store.beginStaging(source: source, batchId: id, dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
        for stage in [first, second, third] { try await store.stage(try records(10, seed: 4), into: stage) }
        guard case .committed = try await store.commit(stage: first, batch: batch, accepted: 10, rejected: 0, receipt: "first", audit: event("1")) else {
            Issue.record("first commit failed"); return
        }
        guard case .duplicate(let receipt) = try await store.commit(stage: second, batch: batch, accepted: 10, rejected: 0, receipt: "second", audit: event("2")) else {
            Issue.record("same bytes were not a duplicate"); return
        }
        #expect(receipt == "first")
        guard case .conflict = try await store.commit(stage: third, batch: try opened(id, payload: "y\n"), accepted: 10, rejected: 0, receipt: "third", audit: event("3")) else {
            Issue.record("other bytes were not a conflict"); return
        }
        #expect(try store.counts() == (batches: 1, records: 10))
        #expect(try store.storedRecordRows() == 10, "the losers' staged records are gone")
    }

    @Test func cursorFollowsCommitOrderAndNeverSkipsOrRepeats() async throws {
        let store = try openStore()
        let (idA, idB) = (BatchID(), BatchID())
        // A starts first but commits last: B's records come first in delivery order.
        let a = try await store.beginStaging(source: source, batchId: idA, dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
        let b = try await store.beginStaging(source: source, batchId: idB, dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
        try await store.stage(try records(7, seed: 5), into: a)
        try await store.stage(try records(5, seed: 6), into: b)
        _ = try await store.commit(stage: b, batch: try opened(idB), accepted: 5, rejected: 0, receipt: "b", audit: event("b"))
        // A reader pages through B, then A commits, then the reader goes on from its cursor.
        var seen = try store.scanRecords(after: .start, datasets: ["uwv.inkomstenverhoudingen"], limit: 3) { _ in true }
        seen += try store.scanRecords(after: seen.last!.cursor, datasets: ["uwv.inkomstenverhoudingen"], limit: 100) { _ in true }
        #expect(seen.count == 5)
        _ = try await store.commit(stage: a, batch: try opened(idA), accepted: 7, rejected: 0, receipt: "a", audit: event("a"))
        seen += try store.scanRecords(after: seen.last!.cursor, datasets: ["uwv.inkomstenverhoudingen"], limit: 100) { _ in true }
        #expect(seen.count == 12)
        #expect(Set(seen.map(\.cursor)).count == 12, "no record twice")
        #expect(seen.map(\.cursor) == seen.map(\.cursor).sorted())
    }

    /// `n` routed records of synthetic people spread over three regions.
    func mixedRecords(_ n: Int, seed: UInt64) throws -> [RoutedRecord] {
        var synth = SyntheticRecords(seed: seed)
        let validator = RecordValidator(schema: .uwvInkomstenverhoudingen)
        let codes = ["GM0344", "GM0363", "GM0014"].map { MunicipalityCode($0)! }
        return try synth.people(n, in: codes).enumerated().map { i, person in
            let record = try validator.validate(line: synth.uwvLine(for: person), number: i + 1).get()
            return RoutedRecord(record: pseudonymiser.pseudonymise(record), region: ReferenceData.embedded.region(of: person.municipality)!)
        }
    }

    @Test func pagesOverRegionsNeverSkipOrRepeatAndARegionIsOneRange() async throws {
        let store = try openStore()
        var staged: [RoutedRecord] = []
        for (k, n) in [40, 25].enumerated() {
            let id = BatchID()
            let stage = try await store.beginStaging(source: source, batchId: id, dataset: "uwv.inkomstenverhoudingen", epoch: 1, at: Date())
            let records = try mixedRecords(n, seed: UInt64(10 + k))
            staged += records
            try await store.stage(records, into: stage)
            _ = try await store.commit(stage: stage, batch: try opened(id), accepted: n, rejected: 0, receipt: "r\(k)", audit: event("\(k)"))
        }
        var seen: [StoredRecord] = [], cursor = DeliveryCursor.start
        while true {
            let page = try store.scanRecords(after: cursor, datasets: ["uwv.inkomstenverhoudingen"], limit: 7) { _ in true }
            guard let last = page.last else { break }
            seen += page
            cursor = last.cursor
        }
        #expect(seen.count == 65 && Set(seen.map(\.cursor)).count == 65)
        #expect(seen.map(\.cursor) == seen.map(\.cursor).sorted())
        #expect(seen.allSatisfy { $0.person.epoch == 1 && $0.dataset == "uwv.inkomstenverhoudingen" })
        for region in Set(staged.map(\.region)) {
            var found = 0
            try store.forEachRecord(dataset: "uwv.inkomstenverhoudingen", region: region) { record in
                #expect(record.region == region)
                found += 1
            }
            #expect(found == staged.filter { $0.region == region }.count)
        }
    }

    @Test(arguments: ["", "1", "1.", ".1", "a.b", "-1.0.0", "1.2", "1.2.3.4", "1..3"])
    func malformedCursorIsRefused(_ text: String) {
        #expect(DeliveryCursor(text) == nil)
    }
}
