import AuditLog
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import PostgresStorage
import Records
import Storage
import StoreSelection
import Synchronization
import Testing
import VangnetCore

/// Two gateway instances on loopback sharing one PostgreSQL database, as behind a load balancer:
/// batches pushed to both at once (the same batch to both, too) are committed exactly once; a
/// region paging through its records on both instances, while the pushes go on, loses and repeats
/// nothing; the two instances write one audit chain that verifies.
///
/// Needs `VANGNET_POSTGRES_URL` (`.ci/run` starts a server and sets it); skipped without it unless
/// `VANGNET_REQUIRE_POSTGRES=1`.
@Suite struct SharedPostgresTests {
    static let configured =
        ProcessInfo.processInfo.environment["VANGNET_POSTGRES_URL"] != nil
        || ProcessInfo.processInfo.environment["VANGNET_REQUIRE_POSTGRES"] == "1"

    /// A fresh schema in the test database, as a `database` setting.
    static func database() async throws -> String? {
        guard let url = ProcessInfo.processInfo.environment["VANGNET_POSTGRES_URL"] else {
            #expect(
                ProcessInfo.processInfo.environment["VANGNET_REQUIRE_POSTGRES"] != "1",
                "VANGNET_POSTGRES_URL is required here"
            )
            // Reported as skipped (cancelled), never as passed.
            try Test.cancel("no PostgreSQL server: VANGNET_POSTGRES_URL is not set")
        }
        let schema = "gw_" + UUID().uuidString.prefix(8).lowercased()
        let admin = try await PostgresStore(configuration: try PostgresStore.configuration(url: url))
        try await admin.uncheckedExecute("CREATE SCHEMA \(schema)")
        await admin.close()
        return url + (url.contains("?") ? "&" : "?") + "schema=\(schema)"
    }

    /// 12 DUO batches of 15 young people each (Utrecht leavers, Utrecht others, Amsterdam leavers)
    /// and one UWV batch per DUO batch about its Utrecht leavers.
    static func batches() -> [(source: String, lines: [String])] {
        var synth = SyntheticRecords(seed: 77)
        return (0..<12).flatMap { i -> [(source: String, lines: [String])] in
            let people = (0..<15).map { j in
                SyntheticRecords.Person(
                    bsn: synth.bsn(),
                    municipality: MunicipalityCode(["GM0344", "GM0355", "GM0363"][j % 3])!,
                    birthDate: CalendarDate("2008-05-01")!
                )
            }
            let duo = people.enumerated().map { j, person in Population.duo(person, leaver: j % 5 != 1) }
            let uwv = people.enumerated().filter { j, person in person.municipality.value != "GM0363" && j % 5 != 1 }
                .map { Population.uwv($1) }
            return [("duo", duo), ("uwv", uwv)]
        }
    }

    @Test func twoInstancesOnOneDatabaseCommitEachBatchOnceAndLoseNothing() async throws {
        guard let database = try await Self.database() else { return }
        try await TestGateway.with(.tls, database: database) { gw in
            let (batchCount, pulls) = try await gw.withAnotherInstance { secondPort in
                let ports = [gw.port, secondPort]
                let batches = try Self.batches().map { batch in
                    (batch.source, try gw.seal(batch.lines, as: batch.source), batch.lines.count)
                }

                // Utrecht pages through the changes of vsv-opvolging on both instances in turn while the
                // pushes run, then drains what is left; the cursor alone carries the state between instances.
                let pushesDone = Atomic<Bool>(false)
                let pagers = [
                    try gw.client("region-utrecht", port: ports[0]), try gw.client("region-utrecht", port: ports[1]),
                ]
                func page() async throws -> (records: [String], pulls: Int) {
                    var records: [String] = []
                    var cursor: String?
                    var turn = 0
                    var drained = false
                    while !drained {
                        let finished = pushesDone.load(ordering: .acquiring)
                        let answer = try await pagers[turn % 2].pull(
                            purpose: "vsv-opvolging",
                            view: cursor == nil ? "changes" : nil,
                            cursor: cursor,
                            limit: 9
                        )
                        turn += 1
                        guard answer.status == 200 else {
                            throw ConfigurationError("pull answered \(answer.status): \(answer.body)")
                        }
                        let page = answer.body.split(separator: "\n").map(String.init)
                        records += page
                        cursor = answer.headers["vangnet-next-cursor"] ?? cursor
                        drained = finished && page.isEmpty
                        if page.isEmpty && !finished { try await Task.sleep(for: .milliseconds(5)) }
                    }
                    return (records, turn)
                }
                async let paging = page()

                // Every batch goes to both instances at the same moment: one commits it (201), the
                // other answers with the same receipt (200).
                let answers = try await withThrowingTaskGroup(of: (Int, Int, String).self) { group in
                    for (index, batch) in batches.enumerated() {
                        for port in ports {
                            group.addTask {
                                let client = try gw.client(batch.0, port: port)
                                let answer = try await client.push(envelope: batch.1)
                                try await client.shutdown()
                                return (index, answer.status, answer.body)
                            }
                        }
                    }
                    return try await group.reduce(into: [(Int, Int, String)]()) { $0.append($1) }
                }
                pushesDone.store(true, ordering: .releasing)
                let pagedResult: Result<(records: [String], pulls: Int), any Error>
                do { pagedResult = .success(try await paging) } catch { pagedResult = .failure(error) }
                for client in pagers { try await client.shutdown() }
                let (paged, pulls) = try pagedResult.get()

                for index in batches.indices {
                    let statuses = answers.filter { $0.0 == index }.map(\.1).sorted()
                    #expect(statuses == [200, 201], "batch \(index): one commit and one retry, got \(statuses)")
                    let bodies = Set(answers.filter { $0.0 == index }.map(\.2))
                    #expect(bodies.count == 1, "batch \(index): both instances hand out the same signed receipt")
                }
                let expectedRecords = batches.reduce(0) { $0 + $1.2 }
                #expect(try await gw.store.counts() == (batches: batches.count, records: expectedRecords))
                #expect(
                    try await gw.store.storedRecordRows() == expectedRecords,
                    "no staged leftovers of the losing pushes"
                )

                // What Utrecht paged together across both instances is exactly what one full pull gives:
                // every batch only adds records, so each change is an upsert of a new record.
                let full = try await gw.using("region-utrecht") {
                    try await $0.pull(purpose: "vsv-opvolging", limit: 10_000)
                }
                let everything = full.body.split(separator: "\n").map(String.init)
                #expect(pulls > 2)
                #expect(Set(paged).count == paged.count, "no record delivered twice across the pages")
                let upserted = paged.map { "{" + $0.dropFirst("{\"change\":\"upsert\",".count) }
                do {
                    let holds = paged.allSatisfy { $0.hasPrefix("{\"change\":\"upsert\",") }
                    #expect(holds)
                }
                #expect(
                    Set(upserted) == Set(everything),
                    "paged on two instances: \(paged.count) records, one full pull: \(everything.count)"
                )
                // vsv-opvolging delivers DUO records: per batch the 8 Utrecht early school leavers.
                #expect(everything.count == 12 * 8)

                return (batches.count, pulls)
            }

            // One audit chain, written by both instances, that verifies with the audit key and
            // holds every push and retry.
            guard case .intact(let entries, _, _) = try await gw.store.verifyAudit(key: gw.gateway.keys.audit.publicKey)
            else {
                Issue.record("the shared audit chain does not verify")
                return
            }
            let events = try await gw.store.auditEvents()
            #expect(events.count == entries)
            do {
                let actual = events.filter { $0.action == .batchPush && $0.outcome == .success }.count
                #expect(actual == batchCount)
            }
            do {
                let actual = events.filter { $0.action == .batchRetry }.count
                #expect(actual == batchCount)
            }
            do {
                let actual = events.filter { $0.action == .pull && $0.outcome == .success }.count
                #expect(actual == pulls + 1)
            }
            do {
                let actual = events.filter { $0.action == .configLoad }.count
                #expect(actual == 2, "each instance recorded its start")
            }
        }
    }

    @Test func theOperatorsCommandsWorkOnTheSharedDatabase() async throws {
        guard let database = try await Self.database() else { return }
        try await TestGateway.with(database: database) { gw in
            let envelope = try gw.seal(Population().duoLines, as: "duo")
            do {
                let actual = try await gw.using("duo") { try await $0.push(envelope: envelope) }.status
                #expect(actual == 201)
            }
            let config = gw.configurationFile.path
            let export = gw.directory.appendingPathComponent("audit.ndjson").path
            let exported = try await PolicyToolTests.vangnet([
                "audit", "export", "--config", config, "--output", export,
            ])
            #expect(exported.status == 0, "\(exported.output)")
            let offline = try await PolicyToolTests.vangnet([
                "audit", "verify", "--export", export, "--audit-key",
                gw.keys.appendingPathComponent("audit-signing.pub").path,
            ])
            #expect(offline.status == 0 && offline.output.contains("audit chain intact"), "\(offline.output)")
            let live = try await PolicyToolTests.vangnet(["audit", "verify", "--config", config])
            #expect(live.status == 0 && live.output.contains("audit chain intact"), "\(live.output)")
            #expect(!live.output.contains("run()") && !live.output.contains("PSQLError"), "\(live.output)")
            let purge = try await PolicyToolTests.vangnet(["retention", "purge", "--config", config])
            #expect(purge.status == 0 && purge.output.contains("0 records removed"), "\(purge.output)")
            let check = try await PolicyToolTests.vangnet(["config", "check", "--config", config])
            #expect(check.status == 0 && check.output.contains("database: PostgreSQL"), "\(check.output)")
            let commands = try await gw.store.auditEvents().filter { $0.action == .operatorCommand }.map(\.object)
            #expect(
                commands == ["cli:audit export"],
                "the commands that change the database are in its audit log; verify changes nothing"
            )
        }
    }

    /// A `?schema=` that does not exist yet stops the start with one sentence that says what to
    /// do, not the driver's dump of the failed statement.
    @Test func aSchemaThatDoesNotExistStopsTheStartWithWhatToDo() async throws {
        guard let url = ProcessInfo.processInfo.environment["VANGNET_POSTGRES_URL"] else {
            #expect(ProcessInfo.processInfo.environment["VANGNET_REQUIRE_POSTGRES"] != "1")
            try Test.cancel("no PostgreSQL server: VANGNET_POSTGRES_URL is not set")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-noschema-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try DevelopmentSetup.create(in: directory, port: 0)
        configuration.gateway.database = url + (url.contains("?") ? "&" : "?") + "schema=not_made_yet"
        let error = try await #require(throws: ConfigurationError.self) {
            try await Gateway(configuration: configuration)
        }
        let text = error.description
        #expect(text.contains("the schema not_made_yet does not exist"), "\(text)")
        #expect(text.contains("CREATE SCHEMA not_made_yet AUTHORIZATION"), "\(text)")
        #expect(!text.contains("\n") && !text.contains("PSQLError") && !text.contains("SELECT"), "\(text)")
    }

    @Test func aGatewayWhoseDatabaseDoesNotAnswerRefusesToStartAndSaysWhy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-nodb-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try DevelopmentSetup.create(in: directory, port: 0)
        configuration.gateway.database = "postgres://vangnet@127.0.0.1:1/vangnet"
        let error = try await #require(throws: ConfigurationError.self) {
            try await Gateway(configuration: configuration)
        }
        #expect(error.description.hasPrefix("gateway.database: PostgreSQL at 127.0.0.1:1: "))
        #expect(error.description.contains("refused"), "the reason: \(error.description)")
        configuration.gateway.database = "postgres://127.0.0.1/vangnet"
        let malformed = try await #require(throws: ConfigurationError.self) {
            try await Gateway(configuration: configuration)
        }
        #expect(malformed.description.contains("gateway.database: not a postgres://user@host/database URL"))
    }
}
