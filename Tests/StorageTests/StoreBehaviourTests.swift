import AuditLog
import BatchEnvelope
import Foundation
import PostgresNIO
import PostgresStorage
import Pseudonymisation
import Records
import Storage
import Synchronization
import Testing
import VangnetCore
import VangnetCrypto

/// One behavioural suite, run against every store: the embedded SQLite store and PostgreSQL.
///
/// PostgreSQL runs when `VANGNET_POSTGRES_URL` names a database (`postgres://user:pw@host/db`;
/// `.ci/run` starts a server and sets it); each test gets its own schema. Without it those cases
/// skip, unless `VANGNET_REQUIRE_POSTGRES=1` (CI) makes that a failure.
@Suite struct StoreBehaviourTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// The stores every behaviour runs on: PostgreSQL where a server is configured, or required.
    static let postgresConfigured =
        ProcessInfo.processInfo.environment["VANGNET_POSTGRES_URL"] != nil
        || ProcessInfo.processInfo.environment["VANGNET_REQUIRE_POSTGRES"] == "1"
    static let kinds: [Kind] = postgresConfigured ? Kind.allCases : [.sqlite]

    /// Without a server this is reported as skipped, so a run on SQLite alone never looks like a
    /// run on both.
    @Test(
        .disabled(
            if: !postgresConfigured,
            "no PostgreSQL server (VANGNET_POSTGRES_URL is not set): the behaviours ran on SQLite only"
        )
    )
    func everyBehaviourRunsOnPostgreSQLToo() {
        #expect(Self.kinds == Kind.allCases)
    }

    let source = OIN("00000099000000000101")!
    let signer = SigningKeyPair.generate()
    let gatewayBox = BoxKeyPair.generate()
    let pseudonymiser = try! Pseudonymiser(keys: PseudonymKeys(root: .random(count: 32), epoch: 1))

    /// Raw SQL past the store's invariants (``StoreTampering``, which the gateway never sees).
    func tamper(_ store: any RecordStore, _ sql: String) async throws {
        guard let store = store as? any StoreTampering else {
            throw StoreError("\(type(of: store)) cannot be tampered with")
        }
        try await store.uncheckedExecute(sql)
    }

    /// A fresh store of `kind`, and a function opening a second one on the same database (a
    /// restart, or a second gateway instance); `nil` if PostgreSQL is not available.
    func stores(
        _ kind: Kind,
        signing: AuditSigning? = nil
    ) async throws -> (first: any RecordStore, another: () async throws -> any RecordStore, close: () -> Void)? {
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vangnet-behaviour-\(UUID().uuidString.prefix(8))"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("store.sqlite").path
            return (
                SQLiteRecordStore(try SQLiteStore(path: path, auditSigning: signing)),
                { SQLiteRecordStore(try SQLiteStore(path: path, auditSigning: signing)) },
                { try? FileManager.default.removeItem(at: directory) }
            )
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["VANGNET_POSTGRES_URL"] else {
                #expect(
                    ProcessInfo.processInfo.environment["VANGNET_REQUIRE_POSTGRES"] != "1",
                    "VANGNET_POSTGRES_URL is required here"
                )
                // Reported as skipped (cancelled), never as passed.
                try Test.cancel("no PostgreSQL server: VANGNET_POSTGRES_URL is not set")
            }
            let schema = "t_" + UUID().uuidString.prefix(8).lowercased()
            let admin = try await PostgresStore(configuration: try PostgresStore.configuration(url: url))
            try await admin.uncheckedExecute("CREATE SCHEMA \(schema)")
            admin.shutdown()
            var configuration = try PostgresStore.configuration(url: url)
            configuration.options.additionalStartupParameters = [("search_path", schema)]
            var opened: [PostgresStore] = [try await PostgresStore(configuration: configuration, auditSigning: signing)]
            let another: () async throws -> any RecordStore = {
                let store = try await PostgresStore(configuration: configuration, auditSigning: signing)
                opened.append(store)
                return store
            }
            return (opened[0], another, { for store in opened { store.shutdown() } })
        }
    }

    /// The BSN of each line of `records(_:seed:)` for the seeds used (for tests that rewrite a record).
    var bsnOf: [Int: String] {
        var synth = SyntheticRecords(seed: 11)
        return Dictionary(
            uniqueKeysWithValues: synth.people(20, in: ["GM0344", "GM0363", "GM0014"].map { MunicipalityCode($0)! })
                .enumerated().map { ($0 + 1, $1.bsn) }
        )
    }

    func records(_ n: Int, seed: UInt64, firstLine: Int = 1) throws -> [RoutedRecord] {
        var synth = SyntheticRecords(seed: seed)
        let validator = RecordValidator(schema: .uwvInkomstenverhoudingen)
        let codes = ["GM0344", "GM0363", "GM0014"].map { MunicipalityCode($0)! }
        return try synth.people(n, in: codes).enumerated().map { i, person in
            let record = try validator.validate(line: synth.uwvLine(for: person), number: i + firstLine).get()
            return RoutedRecord(
                record: pseudonymiser.pseudonymise(record),
                region: ReferenceData.embedded.region(of: person.municipality)!
            )
        }
    }

    func opened(_ id: BatchID, payload: String = "x\n", from sender: OIN? = nil) throws -> OpenedBatch {
        let envelope = try EnvelopeSealer(source: sender ?? source, signingKey: signer, recipient: gatewayBox.publicKey)
            .seal(
                payload: Array(payload.utf8),
                batchId: id,
                dataset: "uwv.inkomstenverhoudingen",
                createdAt: Date(),
                recordCount: 1
            )
        return try EnvelopeReader.open(envelope, with: gatewayBox, signingKey: signer.publicKey).batch
    }

    func event(_ object: String, _ i: Int = 0) -> AuditEvent {
        AuditEvent(
            time: Date(timeIntervalSince1970: 1_795_435_200 + Double(i)),
            actor: source,
            role: .source,
            action: .batchPush,
            object: object,
            outcome: .success,
            counts: ["records": i]
        )
    }

    func stage(_ store: any RecordStore, _ n: Int, seed: UInt64, id: BatchID = BatchID()) async throws -> StagingID {
        let stage = try await store.beginStaging(
            source: source,
            batchId: id,
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        try await store.stage(try records(n, seed: seed), into: stage)
        return stage
    }

    /// Stages `records` as one batch of `source` and commits it.
    func commitBatch(
        _ store: any RecordStore,
        _ records: [RoutedRecord],
        complete: Set<RecordKey>? = nil,
        at i: Int = 0
    ) async throws {
        let id = BatchID()
        let staged = try await store.beginStaging(
            source: source,
            batchId: id,
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        try await store.stage(records, into: staged)
        _ = try await commit(store, staged, id, complete: complete, at: i)
    }

    /// Rules for the store's own tests: every record to its region under one purpose, its line its
    /// fields, its item its key.
    struct EveryRecord: DeliveryRules {
        var version = "every-record/1"
        func deliveries(
            of records: [CurrentRecord],
            on day: CalendarDate
        ) -> (items: [DeliveryItem], recheck: CalendarDate?) {
            (
                records.map {
                    DeliveryItem(
                        stream: DeliveryStream(region: $0.region, purpose: "all"),
                        item: $0.key.bytes,
                        line: FlatJSON.encode($0.fields)
                    )
                }, nil
            )
        }
    }
    let day = CalendarDate("2026-11-23")!
    /// The regions of the municipalities `records(_:seed:)` uses.
    let regions = ["GM0344", "GM0363", "GM0014"].map { ReferenceData.embedded.region(of: MunicipalityCode($0)!)! }

    func commit(
        _ store: any RecordStore,
        _ stage: StagingID,
        _ id: BatchID,
        complete: Set<RecordKey>? = nil,
        at i: Int = 0,
        receipt: String = "r",
        payload: String = "x\n"
    ) async throws -> BatchCommitOutcome {
        let event = event("b", i)
        return try await store.commit(
            stage: stage,
            batch: try opened(id, payload: payload),
            accepted: 0,
            rejected: 0,
            receipt: receipt,
            complete: complete,
            rules: EveryRecord(),
            day: day
        ) { _ in event }
    }

    /// Every line of every region's picture now.
    /// Every region's changes after version `after`.
    func changes(_ store: any RecordStore, after: Int64) async throws -> [DeliveryRow] {
        var rows: [DeliveryRow] = []
        for region in regions {
            rows += try await store.readDeliveries(
                .changes(DeliveryStream(region: region, purpose: "all"), after: after, limit: 1_000_000)
            ).rows
        }
        return rows
    }

    func all(_ store: any RecordStore) async throws -> [DeliveryRow] {
        var rows: [DeliveryRow] = []
        for region in regions {
            rows += try await store.readDeliveries(
                .picture(DeliveryStream(region: region, purpose: "all"), snapshot: nil, after: nil, limit: 1_000_000)
            ).rows
        }
        return rows
    }

    @Test(arguments: Self.kinds)
    func aStagedBatchIsInvisibleUntilItsCommit(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let id = BatchID()
        let stage = try await stage(store, 40, seed: 1, id: id)
        #expect(try await all(store).isEmpty)
        #expect(try await store.counts() == (batches: 0, records: 0))
        guard case .committed = try await commit(store, stage, id) else {
            Issue.record("not committed")
            return
        }
        #expect(try await all(store).count == 40)
        // A region's records are exactly those routed to it.
        let staged = try records(40, seed: 1)
        for region in Set(staged.map(\.region)) {
            let found = try await store.currentRecords(dataset: "uwv.inkomstenverhoudingen", region: region)
            do {
                let holds =
                    found.count == staged.filter { $0.region == region }.count
                    && found.allSatisfy { $0.region == region && $0.person.epoch == 1 }
                #expect(holds)
            }
        }
    }

    @Test(arguments: Self.kinds)
    func aDiscardedOrInterruptedBatchLeavesNothing(kind: Kind) async throws {
        guard let (store, another, close) = try await stores(kind) else { return }
        defer { close() }
        try await store.discard(try await stage(store, 20, seed: 2))
        #expect(try await store.storedRecordRows() == 0)
        _ = try await stage(store, 30, seed: 3)
        await store.close()  // the process stops mid-batch
        let restarted = try await another()
        // SQLite's staged lines live in the process that received them and are gone with it;
        // PostgreSQL's stay in the database until the next start drops them. Either way the
        // batch's row is left for that start to drop.
        #expect(try await restarted.storedRecordRows() == (kind == .sqlite ? 0 : 30))
        #expect(try await restarted.discardInterruptedBatches() == 1)
        #expect(try await restarted.storedRecordRows() == 0)
    }

    /// PostgreSQL only (SQLite has one gateway process): an instance starting while another is
    /// receiving a batch leaves that upload alone, and it commits.
    @Test func aRunningInstancesUploadSurvivesAnotherInstancesStartAndCommits() async throws {
        guard let (store, another, close) = try await stores(.postgres) else { return }
        defer { close() }
        let id = BatchID()
        let stage = try await stage(store, 25, seed: 6, id: id)
        #expect(try await another().discardInterruptedBatches() == 0)
        guard case .committed = try await commit(store, stage, id) else {
            Issue.record("the upload was not committed")
            return
        }
        #expect(try await store.counts() == (batches: 1, records: 25))
    }

    @Test(arguments: Self.kinds)
    func aBatchIdCommitsOnceAcrossInstances(kind: Kind) async throws {
        guard let (store, another, close) = try await stores(kind) else { return }
        defer { close() }
        let second = try await another()
        let id = BatchID()
        let batch = try opened(id)
        // The same batch staged on two instances, committed at the same time: one commit.
        let stages = [try await stage(store, 10, seed: 4, id: id), try await stage(second, 10, seed: 4, id: id)]
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for (i, (s, st)) in zip([store, second], stages).enumerated() {
                group.addTask {
                    let event = event("\(i)")
                    switch try await s.commit(
                        stage: st,
                        batch: batch,
                        accepted: 10,
                        rejected: 0,
                        receipt: "receipt \(i)",
                        complete: nil,
                        rules: EveryRecord(),
                        day: day,
                        audit: { _ in event }
                    ) {
                    case .committed: return "committed"
                    case .duplicate: return "duplicate"
                    case .conflict: return "conflict"
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }.sorted()
        }
        #expect(outcomes == ["committed", "duplicate"])
        guard
            case .conflict = try await commit(
                store,
                try await stage(store, 10, seed: 5, id: id),
                id,
                receipt: "other",
                payload: "y\n"
            )
        else {
            Issue.record("other bytes were not a conflict")
            return
        }
        #expect(try await store.counts() == (batches: 1, records: 10))
        #expect(try await store.storedRecordRows() == 10, "the losers' staged records are gone")
        guard case .intact(let entries, _, _) = try await store.verifyAudit() else {
            Issue.record("audit chain broken")
            return
        }
        #expect(entries == 1, "one commit, one audit entry")
    }

    /// A commit of more people than one recomputation group (SQLite recomputes 256 at a time on a
    /// second thread and writes the versions in key order at the end) delivers every record once,
    /// with its own line; a complete picture that drops some withdraws exactly those.
    @Test(arguments: Self.kinds)
    func aLargeCommitDeliversEveryRecordOnceAndAPictureWithdrawsExactlyWhatItDrops(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let records = try records(1_000, seed: 31)
        try await commitBatch(store, records)
        let expected = Dictionary(
            uniqueKeysWithValues: records.map {
                ($0.record.key.bytes, FlatJSON.encode(FlatJSON.decodeFields($0.record.storedFields)))
            }
        )
        let picture = try await all(store)
        #expect(picture.count == 1_000)
        #expect(Set(picture.map(\.item)) == Set(expected.keys))
        let wrongLines = picture.filter { expected[$0.item] != $0.line }.count
        #expect(wrongLines == 0)
        #expect(Set(picture.map(\.seq)).count == 1_000)
        let head = picture.map(\.seq).max() ?? 0

        let kept = Array(records.prefix(900))
        try await commitBatch(store, kept, complete: Set(kept.map(\.record.key)), at: 1)
        let changes = try await self.changes(store, after: head)
        let dropped = Set(records.suffix(100).map(\.record.key.bytes))
        do {
            let holds =
                changes.count == 100 && changes.allSatisfy { $0.line == nil } && Set(changes.map(\.item)) == dropped
            #expect(holds)
        }
        #expect(try await all(store).count == 900)
    }

    @Test(arguments: Self.kinds)
    func changesFollowCommitOrderWithoutSkipsOrRepeats(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let (idA, idB) = (BatchID(), BatchID())
        let a = try await stage(store, 17, seed: 6, id: idA)
        let b = try await stage(store, 11, seed: 7, id: idB)
        _ = try await commit(store, b, idB)
        let streams = regions.map { DeliveryStream(region: $0, purpose: "all") }
        var seen: [DeliveryRow] = []
        var cursors = [DeliveryStream: Int64]()
        func drain() async throws {
            for stream in streams {
                while true {
                    let page = try await store.readDeliveries(.changes(stream, after: cursors[stream] ?? 0, limit: 4))
                        .rows
                    guard let last = page.last else { break }
                    #expect(page.map(\.seq) == page.map(\.seq).sorted())
                    seen += page
                    cursors[stream] = last.seq
                }
            }
        }
        try await drain()
        #expect(seen.count == 11)
        _ = try await commit(store, a, idA)
        try await drain()
        do {
            let holds = seen.count == 28 && Set(seen.map(\.item)).count == 28 && seen.allSatisfy { $0.line != nil }
            #expect(holds)
        }
    }

    @Test(arguments: Self.kinds)
    func aCompletePictureReplacesTheSourcesRecordsAndTheChangesSayHow(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let first = try records(20, seed: 11)
        try await commitBatch(store, first, complete: Set(first.map(\.record.key)))
        let head = try await store.readDeliveries(
            .changes(DeliveryStream(region: RegionNumber(19)!, purpose: "all"), after: 0, limit: 1)
        ).head
        // Next month: 10 unchanged, 5 changed (a later period), 5 gone, 3 new.
        let newcomers = try records(3, seed: 12, firstLine: 21)
        var changed: [RoutedRecord] = []
        let validator = RecordValidator(schema: .uwvInkomstenverhoudingen)
        for routed in first[10..<15] {
            var fields = FlatJSON.decodeFields(routed.record.storedFields)
            fields["uren_per_week"] = .integer(7)
            let record = try validator.validate(
                line: #"{"bsn":"\#(bsnOf[routed.record.line]!)","# + FlatJSON.encode(fields).dropFirst(),
                number: routed.record.line
            ).get()
            changed.append(RoutedRecord(record: pseudonymiser.pseudonymise(record), region: routed.region))
        }
        let second = Array(first[0..<10]) + changed + newcomers
        #expect(
            Set(changed.map(\.record.key)) == Set(first[10..<15].map(\.record.key)),
            "a change keeps the record's key"
        )
        let id2 = BatchID()
        let s2 = try await store.beginStaging(
            source: source,
            batchId: id2,
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        try await store.stage(second, into: s2)
        let summary = Mutex(CommitSummary())
        let event = event("month 2", 1)
        _ = try await store.commit(
            stage: s2,
            batch: try opened(id2),
            accepted: second.count,
            rejected: 0,
            receipt: "r2",
            complete: Set(second.map(\.record.key)),
            rules: EveryRecord(),
            day: day
        ) { s in
            summary.withLock { $0 = s }
            return event
        }
        var expected = CommitSummary()
        (expected.added, expected.changed, expected.unchanged, expected.withdrawn) = (3, 5, 10, 5)
        do {
            let actual = summary.withLock { $0 }
            #expect(actual == expected)
        }
        #expect(try await store.counts().records == 18)
        // What changed after the first month's head, per region: 8 lines and 5 withdrawals in all.
        var lines = 0
        var withdrawals = 0
        for region in regions {
            let rows = try await store.readDeliveries(
                .changes(DeliveryStream(region: region, purpose: "all"), after: head, limit: 100)
            ).rows
            lines += rows.filter { $0.line != nil }.count
            withdrawals += rows.filter { $0.line == nil }.count
        }
        #expect(lines == 8 && withdrawals == 5)
        // The first month's snapshot still reads as it was.
        var then = 0
        for region in regions {
            then += try await store.readDeliveries(
                .picture(DeliveryStream(region: region, purpose: "all"), snapshot: head, after: nil, limit: 100)
            ).rows.count
        }
        #expect(then == 20)
    }

    @Test(arguments: Self.kinds)
    func aSourcesBatchesActOnItsOwnRecordsOnly(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let held = try records(6, seed: 21)
        try await commitBatch(store, held)
        // Another source of the same dataset withdraws and rewrites the same keys, and sends a
        // complete picture without them: none of it touches the first source's records.
        let other = OIN("00000099000000000109")!
        let withdrawals = held.map {
            StagedLine.withdrawal(
                pseudonymiser.pseudonymise(ValidatedWithdrawalFixture.of($0, bsn: bsnOf21[$0.record.line]!))
            )
        }
        let id2 = BatchID()
        let second = try await store.beginStaging(
            source: other,
            batchId: id2,
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        try await store.stage(withdrawals, into: second)
        let summary = Mutex(CommitSummary())
        let event = event("other", 1)
        _ = try await store.commit(
            stage: second,
            batch: try opened(id2, from: other),
            accepted: 6,
            rejected: 0,
            receipt: "r2",
            complete: nil,
            rules: EveryRecord(),
            day: day
        ) { s in
            summary.withLock { $0 = s }
            return event
        }
        do {
            let holds = summary.withLock { $0.withdrawn } == 0 && summary.withLock { $0.withdrawnUnknown } == 6
            #expect(holds)
        }
        let id3 = BatchID()
        let third = try await store.beginStaging(
            source: other,
            batchId: id3,
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        let mine = try records(2, seed: 22)
        try await store.stage(mine, into: third)
        _ = try await store.commit(
            stage: third,
            batch: try opened(id3, from: other),
            accepted: 2,
            rejected: 0,
            receipt: "r3",
            complete: Set(mine.map(\.record.key)),
            rules: EveryRecord(),
            day: day
        ) { _ in event }
        #expect(try await store.counts().records == 8, "the first source's six and the other's two")
    }

    /// The BSNs of `records(6, seed: 21)`, by line.
    var bsnOf21: [Int: String] {
        var synth = SyntheticRecords(seed: 21)
        return Dictionary(
            uniqueKeysWithValues: synth.people(6, in: ["GM0344", "GM0363", "GM0014"].map { MunicipalityCode($0)! })
                .enumerated().map { ($0 + 1, $1.bsn) }
        )
    }

    @Test(arguments: Self.kinds)
    func theAuditChainVerifiesAndTamperingIsFound(kind: Kind) async throws {
        guard let (store, another, close) = try await stores(kind) else { return }
        defer { close() }
        let second = try await another()
        // Two instances appending at once: still one chain.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (k, s) in [store, second].enumerated() {
                group.addTask { for i in 1...10 { try await s.appendAudit(event("instance \(k)", i)) } }
            }
            try await group.waitForAll()
        }
        guard case .intact(20, _, _) = try await store.verifyAudit() else {
            Issue.record("chain not intact")
            return
        }
        try await tamper(store, "UPDATE audit SET hash = prev_hash WHERE seq = 7")
        #expect(
            try await store.verifyAudit()
                == .broken(sequence: 7, reason: "its content does not match its hash (edited)")
        )
        try await tamper(store, "DELETE FROM audit WHERE seq >= 7")
        guard case .intact(6, _, _) = try await store.verifyAudit() else {
            Issue.record("prefix not intact")
            return
        }
        try await tamper(store, "DELETE FROM audit WHERE seq = 4")
        #expect(try await store.verifyAudit() == .broken(sequence: 5, reason: "record 4 is missing"))
        // The head is the newest entry's number, whatever is missing before it.
        #expect(try await store.auditHead() == 6)
    }

    /// PostgreSQL's schema is versioned: every version applied once and recorded, a second
    /// instance's start applies nothing, and a database migrated by a newer gateway is refused.
    @Test(.enabled(if: postgresConfigured))
    func postgresMigrationsAreVersionedAndANewerSchemaIsRefused() async throws {
        guard let (store, another, close) = try await stores(.postgres) else { return }
        defer { close() }
        let postgres = try #require(store as? PostgresStore)
        let versions = try await postgres.schemaVersions()
        #expect(versions == Array(1...PostgresStore.knownSchemaVersion))
        let second = try #require(try await another() as? PostgresStore)
        #expect(try await second.schemaVersions() == versions)
        // A database made before versions were recorded has the tables: every version applies again, harmlessly.
        try await tamper(store, "DELETE FROM schema_migrations")
        let older = try #require(try await another() as? PostgresStore)
        #expect(try await older.schemaVersions() == versions)
        try await tamper(
            store,
            "INSERT INTO schema_migrations VALUES (\(PostgresStore.knownSchemaVersion + 1), 'from a newer gateway', 0)"
        )
        var refusal = ""
        do { _ = try await another() } catch { refusal = "\(error)" }
        #expect(
            refusal.contains("version \(PostgresStore.knownSchemaVersion + 1), made by a newer gateway"),
            "\(refusal)"
        )
    }

    /// A database made before a person's live versions moved into their `people` row (schema v5:
    /// an index of `deliveries` by person) is migrated at start, and its versions stay live: the
    /// next complete picture withdraws what it drops, once, and supersedes nothing twice.
    @Test func aDatabaseWithTheOldLiveIndexIsMigratedAndItsVersionsStayLive() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-v6-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("store.sqlite").path
        let before = SQLiteRecordStore(try SQLiteStore(path: path))
        let first = try records(20, seed: 11)
        try await commitBatch(before, first, complete: Set(first.map(\.record.key)))
        let head = try await before.readDeliveries(
            .changes(DeliveryStream(region: regions[0], purpose: "all"), after: 0, limit: 1)
        ).head
        // Back to v5's shape: the live versions only in the index by person.
        try await tamper(
            before,
            """
            CREATE INDEX deliveries_live ON deliveries (person) WHERE superseded IS NULL;
            ALTER TABLE people DROP COLUMN live;
            DELETE FROM grdb_migrations WHERE identifier LIKE 'v6%'
            """
        )
        let store = SQLiteRecordStore(try SQLiteStore(path: path))
        let kept = Array(first.prefix(15))
        try await commitBatch(store, kept, complete: Set(kept.map(\.record.key)), at: 1)
        let changes = try await self.changes(store, after: head)
        let everything = try await self.changes(store, after: 0)
        let dropped = Set(first.suffix(5).map(\.record.key.bytes))
        do {
            let holds =
                changes.count == 5 && changes.allSatisfy { $0.line == nil } && Set(changes.map(\.item)) == dropped
            #expect(holds)
        }
        #expect(everything.count == 20 && Set(everything.map(\.item)).count == 20, "one live version per item")
        #expect(try await all(store).count == 15)
    }

    /// A database whose `current` table is v6's (clustered by person, dataset and source as text,
    /// an index by dataset and source) is migrated at start: every record is kept with its source,
    /// dataset, region and fields, and what comes next compares with it: a complete picture
    /// withdraws what it drops, an unchanged record is not delivered again, retention finds its dataset.
    @Test func aDatabaseWithV6sCurrentTableIsMigratedAndItsRecordsCompareAsBefore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-v7-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("store.sqlite").path
        let before = SQLiteRecordStore(try SQLiteStore(path: path))
        let first = try records(30, seed: 12)
        try await commitBatch(before, first, complete: Set(first.map(\.record.key)))
        let held = try await all(before)
        let region = regions[0]
        let inRegion = try await before.currentRecords(dataset: "uwv.inkomstenverhoudingen", region: region)
        let head = try await before.readDeliveries(
            .changes(DeliveryStream(region: region, purpose: "all"), after: 0, limit: 1)
        ).head
        // Back to v6's shape.
        try await tamper(
            before,
            """
            CREATE TABLE current_v6 (
                person BLOB NOT NULL, key BLOB NOT NULL, epoch INTEGER NOT NULL, source TEXT NOT NULL, dataset TEXT NOT NULL,
                region INTEGER NOT NULL, fields TEXT NOT NULL, batch INTEGER NOT NULL, changed_at REAL NOT NULL,
                PRIMARY KEY (person, key)
            ) WITHOUT ROWID;
            INSERT INTO current_v6 SELECT c.person, c.key, c.epoch, s.oin, d.name, c.region, c.fields, c.batch, c.changed_at
                FROM current c JOIN datasets d ON d.id = c.dataset JOIN sources s ON s.id = c.source;
            DROP TABLE current; DROP TABLE datasets; DROP TABLE sources;
            ALTER TABLE current_v6 RENAME TO current;
            CREATE INDEX current_by_dataset ON current (dataset, source);
            DELETE FROM grdb_migrations WHERE identifier LIKE 'v7%'
            """
        )
        let store = SQLiteRecordStore(try SQLiteStore(path: path))
        let migrated = try await store.currentRecords(dataset: "uwv.inkomstenverhoudingen", region: region)
        #expect(migrated.count == inRegion.count && migrated.count > 0)
        let sameRecords =
            Set(
                migrated.map {
                    "\($0.key.bytes) \($0.person.bytes) \($0.region.value) \(FlatJSON.encode($0.fields)) \($0.confirmedAt)"
                }
            )
            == Set(
                inRegion.map {
                    "\($0.key.bytes) \($0.person.bytes) \($0.region.value) \(FlatJSON.encode($0.fields)) \($0.confirmedAt)"
                }
            )
        #expect(sameRecords, "the migrated records differ from those held before")
        #expect(try await all(store).map(\.line) == held.map(\.line))
        // The next picture keeps 25 as they were and drops 5: only the 5 withdrawals are changes.
        let kept = Array(first.prefix(25))
        try await commitBatch(store, kept, complete: Set(kept.map(\.record.key)), at: 1)
        let changes = try await self.changes(store, after: head)
        let dropped = Set(first.suffix(5).map(\.record.key.bytes))
        do {
            let holds =
                changes.count == 5 && changes.allSatisfy { $0.line == nil } && Set(changes.map(\.item)) == dropped
            #expect(holds)
        }
        #expect(try await all(store).count == 25)
        // Retention finds the migrated dataset's records.
        let purged = try await store.purge(
            before: ["uwv.inkomstenverhoudingen": Date().addingTimeInterval(86_400 * 365)],
            rules: EveryRecord(),
            day: day,
            now: Date()
        ) { _ in event("purge", 2) }
        #expect(purged.records["uwv.inkomstenverhoudingen"] == 25)
        #expect(try await all(store).isEmpty)
    }

    /// A SQLite store in a directory of its own that checkpoints its log past 50 pages, and its file.
    func smallCheckpointStore() throws -> (store: SQLiteRecordStore, path: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-wal-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("store.sqlite").path
        return (SQLiteRecordStore(try SQLiteStore(path: path, checkpointPages: 50)), path, directory)
    }

    /// SQLite's log is copied into the database by a background checkpoint once it passes its
    /// threshold (here 50 pages): the commit does not wait for it, and it still happens.
    @Test func aCommitsLogIsCheckpointedInTheBackground() async throws {
        let (store, path, directory) = try smallCheckpointStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        func size() -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
        let before = size()
        try await commitBatch(store, try records(2_000, seed: 41))
        var after = size()
        for _ in 0..<100 where after < before + 500_000 {
            try await Task.sleep(for: .milliseconds(100))
            after = size()
        }
        #expect(
            after >= before + 500_000,
            "the database file stayed at \(after) bytes (was \(before)): nothing was checkpointed"
        )
        #expect(try await all(store).count == 2_000)
    }

    /// SQLite's log keeps its size after checkpoints (cutting it inside a commit held the commit),
    /// and the daily step cuts it back to nothing, in the background; the records stay.
    @Test func theDailyStepCutsTheLogBack() async throws {
        let (store, path, directory) = try smallCheckpointStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        func log() -> Int { ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int) ?? -1 }
        try await commitBatch(store, try records(2_000, seed: 43))
        let grown = log()
        #expect(grown > 500_000, "a commit of 2,000 records left a log of \(grown) bytes")
        let sameDay = try await store.maintainDeliveries(rules: EveryRecord(), day: day, now: Date())
        #expect(!sameDay.newDay)
        try await Task.sleep(for: .milliseconds(300))
        #expect(log() >= grown, "the log was cut back without a new day")
        let nextDay = try await store.maintainDeliveries(rules: EveryRecord(), day: day.adding(days: 1), now: Date())
        #expect(nextDay.newDay)
        var size = log()
        for _ in 0..<100 where size != 0 {
            try await Task.sleep(for: .milliseconds(100))
            size = log()
        }
        #expect(size == 0, "the log is \(size) bytes a while after the daily step")
        #expect(try await all(store).count == 2_000)
    }

    /// SQLite's export runs on the store's own threads and reaches the writer in chunks: a log of
    /// several chunks arrives whole and in order, and a writer that fails stops the reader.
    @Test func anExportOfSeveralChunksArrivesWholeAndAFailingWriterStopsIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-export-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sqlite = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
        try sqlite.appendAudit((1...4_500).map { event("bulk", $0) })
        let store = SQLiteRecordStore(sqlite)
        var streamed: [String] = []
        var direct: [String] = []
        try await store.exportAudit(.ndjson) { streamed.append($0) }
        try sqlite.exportAudit(.ndjson) { direct.append($0) }
        #expect(streamed.count == 4_500 && streamed == direct)
        struct DiskFull: Error {}
        var written = 0
        var failure: (any Error)?
        do {
            try await store.exportAudit(.csv) { _ in
                written += 1
                if written == 2_500 { throw DiskFull() }
            }
        } catch {
            failure = error
        }
        #expect(failure is DiskFull && written == 2_500)
        #expect(try await store.auditHead() == 4_500)
    }

    @Test(arguments: Self.kinds)
    func signedCheckpointsPinTheChain(kind: Kind) async throws {
        let key = SigningKeyPair.generate()
        guard let (store, another, close) = try await stores(kind, signing: AuditSigning(key: key, every: 4)) else {
            return
        }
        defer { close() }
        let second = try await another()
        for i in 1...10 { try await (i % 2 == 0 ? store : second).appendAudit(event("e", i)) }
        #expect(try await store.auditCheckpoints().map(\.sequence) == [4, 8])
        #expect(try await store.checkpointAudit(at: Date())?.sequence == 10)
        #expect(try await store.checkpointAudit(at: Date()) == nil)
        guard case .intact(10, _, 3) = try await store.verifyAudit(held: [], key: key.publicKey) else {
            Issue.record("not intact")
            return
        }
        let held = try await store.auditCheckpoints().last!
        #expect(held.isSigned(by: key.publicKey))
        try await tamper(store, "DELETE FROM audit WHERE seq > 6; DELETE FROM audit_checkpoints WHERE seq > 6")
        guard case .intact = try await store.verifyAudit(held: [], key: key.publicKey) else {
            Issue.record("a clean cut passes without a held checkpoint")
            return
        }
        guard case .broken(10, let reason) = try await store.verifyAudit(held: [held], key: key.publicKey) else {
            Issue.record("truncation not caught")
            return
        }
        #expect(reason.contains("truncated"))
    }

    /// 40 regions' pulls append at once, from two instances: every entry is in the chain once, in
    /// a chain that verifies, with the signed checkpoints where the rule puts them.
    @Test(arguments: Self.kinds)
    func appendsAtOnceFromTwoInstancesAllLandInOneChain(kind: Kind) async throws {
        let key = SigningKeyPair.generate()
        guard let (store, another, close) = try await stores(kind, signing: AuditSigning(key: key, every: 8)) else {
            return
        }
        defer { close() }
        let second = try await another()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 1...40 { group.addTask { try await (i % 2 == 0 ? store : second).appendAudit(event("pull", i)) } }
            try await group.waitForAll()
        }
        let verdict = try await store.verifyAudit(held: [], key: key.publicKey)
        guard case .intact(40, _, _) = verdict else {
            Issue.record("40 appends at once: \(verdict)")
            return
        }
        let entries = try await store.auditEntries(AuditFilter(), after: 0, limit: 100)
        let numbers = entries.compactMap { $0.event.counts["records"] }.sorted()
        #expect(numbers == Array(1...40))
        #expect(entries.map(\.sequence) == Array(1...40))
        #expect(try await store.auditCheckpoints().map(\.sequence) == [8, 16, 24, 32, 40])
    }

    /// A request cancelled while its entry waits (its client hung up) does not fail the entries
    /// of the others in its group, and its own is written: the group is not written in its task.
    @Test(arguments: Self.kinds)
    func anAppendFromACancelledTaskFailsNoOtherAndIsWritten(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let failures = await withTaskGroup(of: String?.self) { group in
            for i in 1...24 {
                group.addTask {
                    if i % 3 == 1 { withUnsafeCurrentTask { $0?.cancel() } }
                    do {
                        try await store.appendAudit(event("pull", i))
                        return nil
                    } catch { return "append \(i): \(type(of: error))" }
                }
            }
            return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        #expect(failures.isEmpty)
        let entries = try await store.auditEntries(AuditFilter(), after: 0, limit: 100)
        let numbers = entries.compactMap { $0.event.counts["records"] }.sorted()
        #expect(numbers == Array(1...24))
    }

    @Test(arguments: Self.kinds)
    func aPurgeRemovesOnlyExpiredRecordsAndIsAudited(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let (old, recent) = (BatchID(), BatchID())
        let a = try await stage(store, 12, seed: 8, id: old)
        let b = try await stage(store, 5, seed: 9, id: recent)
        _ = try await commit(store, a, old, at: 0)
        _ = try await commit(store, b, recent, at: 1000)
        let cutoff = Date(timeIntervalSince1970: 1_795_435_200 + 500)
        let purged = event("purge")
        let nothing = try await store.purge(
            before: ["uwv.inkomstenverhoudingen": Date(timeIntervalSince1970: 0)],
            rules: EveryRecord(),
            day: day,
            now: Date()
        ) { _ in purged }
        #expect(nothing == PurgeResult())
        let result = try await store.purge(
            before: ["uwv.inkomstenverhoudingen": cutoff],
            rules: EveryRecord(),
            day: day,
            now: Date()
        ) { r in
            AuditEvent(
                time: Date(),
                actor: nil,
                role: nil,
                action: .retentionPurge,
                object: "retention:test",
                outcome: .success,
                counts: ["records": r.records.values.reduce(0, +)]
            )
        }
        #expect(
            result.records == ["uwv.inkomstenverhoudingen": 12] && result.batches == ["uwv.inkomstenverhoudingen": 1]
        )
        #expect(try await store.storedRecordRows() == 5)
        #expect(try await all(store).count == 5)
        guard case .intact(3, _, _) = try await store.verifyAudit() else {
            Issue.record("two commits and one purge: three entries")
            return
        }
    }

    @Test(arguments: Self.kinds)
    func auditorsFilterPageAndExportTheLog(kind: Kind) async throws {
        let key = SigningKeyPair.generate()
        guard let (store, _, close) = try await stores(kind, signing: AuditSigning(key: key, every: 5)) else { return }
        defer { close() }
        let utrecht = OIN("00000099000000000219")!
        let amsterdam = OIN("00000099000000000221")!
        for i in 1...12 {
            try await store.appendAudit(
                AuditEvent(
                    time: Date(timeIntervalSince1970: 1_795_435_200 + Double(i) * 3600),
                    actor: i % 3 == 0 ? amsterdam : utrecht,
                    role: .consumer,
                    action: .pull,
                    object: "purpose:vsv-opvolging",
                    outcome: i % 4 == 0 ? .refused : .success,
                    reason: i % 4 == 0 ? "no_grant" : nil,
                    region: RegionNumber(i % 3 == 0 ? 21 : 19),
                    purpose: "vsv-opvolging"
                )
            )
        }
        func entries(
            _ filter: AuditFilter,
            after: Int64 = 0,
            before: Int64? = nil,
            newestFirst: Bool = false,
            limit: Int = 100
        ) async throws -> [Int64] {
            try await store.auditEntries(filter, after: after, before: before, newestFirst: newestFirst, limit: limit)
                .map(\.sequence)
        }
        #expect(try await entries(AuditFilter()) == Array(1...12))
        #expect(try await entries(AuditFilter(actor: amsterdam)) == [3, 6, 9, 12])
        #expect(try await entries(AuditFilter(region: RegionNumber(19), outcome: .refused)) == [4, 8])
        #expect(
            try await entries(AuditFilter(from: Date(timeIntervalSince1970: 1_795_435_200 + 10 * 3600))) == [
                10, 11, 12,
            ]
        )
        #expect(try await entries(AuditFilter(to: Date(timeIntervalSince1970: 1_795_435_200 + 3 * 3600))) == [1, 2])
        #expect(try await entries(AuditFilter(action: .batchPush)).isEmpty)
        #expect(try await entries(AuditFilter(), after: 10, limit: 5) == [11, 12])
        #expect(try await entries(AuditFilter(), newestFirst: true, limit: 3) == [12, 11, 10])
        #expect(try await entries(AuditFilter(outcome: .success), before: 6, newestFirst: true, limit: 2) == [5, 3])
        let decoded = try #require(
            try await store.auditEntries(AuditFilter(), after: 4, before: nil, newestFirst: false, limit: 1).first
        )
        #expect(
            decoded.event.reason == nil && decoded.event.actor == utrecht && decoded.event.region == RegionNumber(19)
        )

        for format in AuditExport.Format.allCases {
            let lines = try await store.exportAudit(format)
            guard case .intact(12, _, 2) = try AuditExport.verify(lines.joined(separator: "\n"), key: key.publicKey)
            else {
                Issue.record("\(format) export does not verify")
                return
            }
        }
    }
}

/// Withdrawals of records made in a test, through the validator as a source would send them.
enum ValidatedWithdrawalFixture {
    static func of(_ routed: RoutedRecord, bsn: String) -> ValidatedWithdrawal {
        let fields = FlatJSON.decodeFields(routed.record.storedFields)
        func text(_ name: String) -> String {
            if case .text(let s)? = fields[name] { return s }
            return ""
        }
        let line =
            #"{"bsn":"\#(bsn)","periode":"\#(text("periode"))","soort":"\#(text("soort"))","startdatum":"\#(text("startdatum"))","withdrawn":true}"#
        guard
            case .success(.withdrawal(let w)) = RecordValidator(schema: .uwvInkomstenverhoudingen).validateChange(
                line: line,
                number: routed.record.line
            )
        else {
            preconditionFailure("not a withdrawal")
        }
        return w
    }
}
